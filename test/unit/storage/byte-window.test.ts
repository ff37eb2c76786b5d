import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { ByteWindow } from '../../../src/storage/byte-window';

/** `data` cut into chunks of `size`, through a window of [start, start + length). */
async function windowed(data: Buffer, size: number, start: number, length: number): Promise<Buffer> {
  const chunks = Array.from({ length: Math.ceil(data.length / size) }, (_, i) =>
    data.subarray(i * size, (i + 1) * size),
  );
  const window = new ByteWindow(start, length);
  const [out] = await Promise.all([buffer(window), pipeline(Readable.from(chunks), window)]);
  return out;
}

describe('ByteWindow (what a store sent beyond the range asked for is dropped)', () => {
  const data = Buffer.from('0123456789abcdefghij');
  it.each([
    ['the first byte', 0, 1, '0'],
    ['a middle run across chunks', 3, 9, '3456789ab'],
    ['the last byte', 19, 1, 'j'],
    ['the whole', 0, 20, '0123456789abcdefghij'],
  ])('%s', async (_label, start, length, expected) => {
    for (const size of [1, 3, 7, 20]) expect((await windowed(data, size, start, length)).toString()).toBe(expected);
  });
});
