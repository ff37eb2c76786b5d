import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ProcessInput } from './processor.js';

/**
 * A plaintext copy of the upload for a tool that needs a seekable file (poppler, FFmpeg on
 * a MOV whose index is at the end), in the request's private directory (0600 in 0700),
 * which is removed when the request ends whatever its outcome.
 */
export async function plainCopy(input: ProcessInput, name: string): Promise<string> {
  return plainCopyOf(await input.open(), input.workDir, name, input.signal);
}

export async function plainCopyOf(
  plaintext: Readable,
  workDir: string,
  name: string,
  signal: AbortSignal,
): Promise<string> {
  const path = join(workDir, name);
  await pipeline(plaintext, createWriteStream(path, { flags: 'wx', mode: 0o600 }), { signal });
  return path;
}
