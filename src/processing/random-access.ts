import type { FileHandle } from 'node:fs/promises';
import { MediaError } from '../errors.js';

/** Reads exactly `length` bytes at `position`, or reports the file as corrupt. */
export async function readExactly(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await file.read(buffer, 0, length, position);
  if (bytesRead !== length) throw new MediaError('CORRUPT_FILE', 'The file ends before its structure does');
  return buffer;
}
