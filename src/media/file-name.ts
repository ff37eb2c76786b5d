/**
 * A display name safe to store and to echo in Content-Disposition: no directories, no
 * control or bidi-override characters, at most 200 characters; an empty result becomes
 * "file.<ext>" of the detected format.
 */
export function sanitizeFileName(raw: string, ext: string): string {
  const base = raw.normalize('NFC').split(/[\\/]/).pop() ?? '';
  const cleaned = base
    .replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '')
    .replace(/^[\s.]+|\s+$/g, '');
  const limited = Array.from(cleaned).slice(0, 200).join('');
  return limited || `file.${ext}`;
}
