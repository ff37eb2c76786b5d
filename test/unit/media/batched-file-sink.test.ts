import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BatchedFileSink } from '../../../src/media/streams/batched-file-sink';

describe('BatchedFileSink', () => {
  const dir = mkdtempSync(join(tmpdir(), 'media-test-sink-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['nothing', 0, 1],
    ['less than a batch', 100_000, 7_000],
    ['exactly a batch', 1024 * 1024, 65_536],
    ['several batches and a part, in uneven chunks', 5 * 1024 * 1024 + 12_345, 61_111],
  ])('writes every byte in order: %s', async (_, size, chunk) => {
    const data = randomBytes(size);
    const chunks: Buffer[] = [];
    for (let at = 0; at < size; at += chunk) chunks.push(data.subarray(at, at + chunk));
    const path = join(dir, `file-${size}`);
    await pipeline(Readable.from(chunks), new BatchedFileSink(path));
    expect(readFileSync(path).equals(data)).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('refuses a file that exists, leaving it as it was', async () => {
    const path = join(dir, 'taken');
    writeFileSync(path, 'mine');
    await expect(pipeline(Readable.from([Buffer.from('other')]), new BatchedFileSink(path))).rejects.toThrow(/EEXIST/);
    expect(readFileSync(path, 'utf8')).toBe('mine');
  });

  it('closes its file when the stream feeding it fails', async () => {
    const path = join(dir, 'cut');
    const failing = new Readable({
      read() {
        this.push(randomBytes(2 * 1024 * 1024));
        this.destroy(new Error('client went away'));
      },
    });
    const openFiles = () => readdirSync('/proc/self/fd').length;
    const before = openFiles();
    const sink = new BatchedFileSink(path);
    await expect(pipeline(failing, sink)).rejects.toThrow('client went away');
    if (!sink.closed) await new Promise((resolve) => sink.once('close', resolve));
    expect(openFiles()).toBe(before);
  });
});
