import type { Readable } from 'node:stream';

/**
 * A stream's bytes as one buffer. node:stream/consumers' buffer() goes through a Blob (two
 * copies and a transferable object per call), which a profile of small uploads showed.
 */
export async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
}
