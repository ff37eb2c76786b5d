import { statfs } from 'node:fs/promises';

/** No space (ENOSPC) or the file system's quota for this user (EDQUOT). */
const OUT_OF_SPACE_CODES = new Set(['ENOSPC', 'EDQUOT']);
/** The same failures as tools (sharp/libvips, FFmpeg, LibreOffice) report them: in words. */
const OUT_OF_SPACE_TEXT = /No space left on device|Disk quota exceeded/i;
const MAX_DEPTH = 5;

/**
 * True when `error` means "the disk this service writes to is full" (a temp file, a work
 * directory, a blob), anywhere in its cause chain: the service's own storage, not the
 * user's quota, so it is answered 503 with Retry-After rather than 507.
 */
export function isOutOfSpace(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > MAX_DEPTH) return false;
  const known = error as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof known.code === 'string' && OUT_OF_SPACE_CODES.has(known.code)) return true;
  if (typeof known.message === 'string' && OUT_OF_SPACE_TEXT.test(known.message)) return true;
  if (Array.isArray(known.errors) && known.errors.some((inner) => isOutOfSpace(inner, depth + 1))) return true;
  return isOutOfSpace(known.cause, depth + 1);
}

/** Bytes an unprivileged writer may still use on the file system holding `path`. */
export async function freeBytes(path: string): Promise<number> {
  const { bavail, bsize } = await statfs(path);
  return bavail * bsize;
}

/** Rejects when the file system holding `path` has less than `minFreeBytes` free (0: never). */
export async function assertFreeSpace(path: string, minFreeBytes: number): Promise<void> {
  if (minFreeBytes <= 0) return;
  const free = await freeBytes(path);
  if (free < minFreeBytes)
    throw new Error(`${free} bytes free under ${path}, below STORAGE_MIN_FREE_BYTES=${minFreeBytes}`);
}
