import type { ByteRange } from '../storage/blob-store.js';

export type RangeRequest = { kind: 'none' } | { kind: 'single'; range: ByteRange } | { kind: 'unsatisfiable' };

/**
 * Interprets a `Range` header against a representation of `size` bytes (RFC 9110 §14).
 * Not the `range-parser` package that Express uses: it answers `bytes=5-1` (an invalid
 * range, which RFC 9110 §14.2 says to ignore) as unsatisfiable (416), and it serves several
 * ranges, which would need multipart/byteranges of decrypted segments.
 * A missing, malformed, non-bytes or multi-range header means the whole body (servers
 * may ignore Range); a single satisfiable range is served as 206.
 */
export function parseRange(header: string | undefined, size: number): RangeRequest {
  const match = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header ?? '');
  if (!match || (match[1] === '' && match[2] === '')) return { kind: 'none' };
  const [, first, last] = match;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'single', range: { start: Math.max(0, size - suffix), end: size - 1 } };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return { kind: 'none' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'single', range: { start, end } };
}
