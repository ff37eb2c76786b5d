import { MediaError } from '../errors.js';

/** Positioned reads of a file's plaintext (an encrypted temp file, a plain file). */
export interface RandomAccess {
  size: number;
  read(position: number, length: number): Promise<Buffer>;
}

/** Reads exactly `length` bytes at `position`, or reports the file as corrupt. */
export async function readExactly(file: RandomAccess, position: number, length: number): Promise<Buffer> {
  const bytes = position < 0 ? Buffer.alloc(0) : await file.read(position, length);
  if (bytes.length !== length) throw new MediaError('CORRUPT_FILE', 'The file ends before its structure does');
  return bytes;
}
