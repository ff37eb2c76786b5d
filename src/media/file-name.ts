import { extensionsOf } from '../detection/media-types.js';

const MAX_CHARS = 200;
/** What counts as an extension to keep when shortening, or to replace when it names another type. */
const EXTENSION = /\.([A-Za-z0-9]{1,10})$/;

/**
 * A display name safe to store and to echo in Content-Disposition: no directories, no
 * control or bidi-override characters, at most 200 characters with the extension kept; an
 * empty result becomes "file.<ext>" of the detected format.
 */
export function sanitizeFileName(raw: string, ext: string): string {
  const base = raw.normalize('NFC').split(/[\\/]/).pop() ?? '';
  const cleaned = base
    .replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '')
    .replace(/^[\s.]+|\s+$/g, '');
  const chars = Array.from(cleaned);
  if (!chars.length) return `file.${ext}`;
  if (chars.length <= MAX_CHARS) return cleaned;
  const suffix = EXTENSION.exec(cleaned)?.[0] ?? '';
  return (
    Array.from(cleaned.slice(0, cleaned.length - suffix.length))
      .slice(0, MAX_CHARS - suffix.length)
      .join('')
      .trimEnd() + suffix
  );
}

/**
 * The name a download is saved under: the stored name when its extension names the stored
 * type, else the stored type's extension in place of the one it had (a text file uploaded
 * as "notes.jpg" downloads as "notes.txt"), so no client opens it as something else.
 */
export function downloadName(name: string, mimeType: string): string {
  const [canonical, ...aliases] = extensionsOf(mimeType);
  if (!canonical) return name;
  const current = EXTENSION.exec(name);
  if (current && [canonical, ...aliases].includes(current[1].toLowerCase())) return name;
  const stem = current && current.index > 0 ? name.slice(0, current.index) : name;
  return `${stem}.${canonical}`;
}
