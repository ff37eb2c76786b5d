import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer as collect } from 'node:stream/consumers';
import { newBlobKey } from '../../src/storage/blob-keys';
import { BlobNotFoundError, type BlobStore } from '../../src/storage/blob-store';

const readAll = collect;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const MiB = 1024 * 1024;
/** Past one part of an S3 multipart upload (5 MiB): a put of this many bytes is a multipart upload there. */
const SEVERAL_MIB = 12 * MiB + 12_345;

/** Adapters whose listing comes in pages are given this page size in their tests, so that the contract's listing spans pages. */
export const CONTRACT_LIST_PAGE_SIZE = 10;

/**
 * The behaviour every BlobStore adapter must have. Each adapter's test file calls this
 * with a factory for a fresh, empty store.
 */
export function blobStoreContract(name: string, makeStore: () => Promise<BlobStore>): void {
  describe(`BlobStore contract: ${name}`, () => {
    let store: BlobStore;
    beforeEach(async () => {
      store = await makeStore();
    });

    it('stores a stream and reads it back, whole and by inclusive range', async () => {
      const data = randomBytes(300_000);
      const key = newBlobKey();
      expect(await store.put(key, Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]))).toEqual({
        size: data.length,
      });
      expect((await readAll(await store.get(key))).equals(data)).toBe(true);
      expect((await readAll(await store.get(key, { start: 1000, end: 1999 }))).equals(data.subarray(1000, 2000))).toBe(
        true,
      );
      expect(
        (await readAll(await store.get(key, { start: 299_990, end: 299_999 }))).equals(data.subarray(299_990)),
      ).toBe(true);
    });

    it('stores a streamed put of several MiB byte for byte, and reads ranges anywhere in it, the last byte alone too', async () => {
      const data = randomBytes(SEVERAL_MIB);
      const key = newBlobKey();
      expect(await store.put(key, Readable.from(chunks(data, 64 * 1024)))).toEqual({ size: data.length });
      expect(sha256(await readAll(await store.get(key)))).toBe(sha256(data));
      expect(await store.head(key)).toMatchObject({ key, size: data.length });
      const last = data.length - 1;
      const ranges = [
        [0, 1],
        [last, last],
        [last - 99_999, last],
        [5 * MiB - 10, 5 * MiB + 9], // across the first part boundary of an S3 multipart upload
        [3 * MiB, 11 * MiB],
      ];
      for (const [start, end] of ranges) {
        expect(sha256(await readAll(await store.get(key, { start, end })))).toBe(sha256(data.subarray(start, end + 1)));
      }
    });

    it('reads the first byte alone (bytes=0-0)', async () => {
      const key = newBlobKey();
      await store.put(key, Readable.from([Buffer.from('abc')]));
      expect((await readAll(await store.get(key, { start: 0, end: 0 }))).toString()).toBe('a');
    });

    it('moves a finished local file in with putFile, consuming it', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'media-test-putfile-'));
      const path = join(dir, 'upload');
      const data = randomBytes(70_000);
      writeFileSync(path, data);
      const key = newBlobKey();
      expect(await store.putFile(key, path)).toEqual({ size: data.length });
      expect(existsSync(path)).toBe(false);
      expect((await readAll(await store.get(key))).equals(data)).toBe(true);
      rmSync(dir, { recursive: true, force: true });
    });

    it('reports size and modification time with head, and null for a missing blob', async () => {
      const key = newBlobKey();
      const before = Date.now() - 2000;
      await store.put(key, Readable.from([Buffer.from('hello')]));
      const info = await store.head(key);
      expect(info).toMatchObject({ key, size: 5 });
      expect(info!.lastModified.getTime()).toBeGreaterThanOrEqual(before);
      expect(await store.head(newBlobKey())).toBeNull();
    });

    it('rejects a read of a missing blob with BlobNotFoundError, whole or by range', async () => {
      await expect(store.get(newBlobKey())).rejects.toBeInstanceOf(BlobNotFoundError);
      await expect(store.get(newBlobKey(), { start: 0, end: 9 })).rejects.toBeInstanceOf(BlobNotFoundError);
    });

    it('deletes, and deleting twice, or a blob that never was, is fine', async () => {
      const key = newBlobKey();
      await store.put(key, Readable.from([Buffer.from('x')]));
      await store.delete(key);
      await store.delete(key);
      await store.delete(newBlobKey());
      expect(await store.head(key)).toBeNull();
      await expect(store.get(key)).rejects.toBeInstanceOf(BlobNotFoundError);
    });

    it('lists by prefix', async () => {
      const keys = [newBlobKey(), newBlobKey(), newBlobKey()];
      for (const key of keys) await store.put(key, Readable.from([Buffer.from(key)]));
      const listed: string[] = [];
      for await (const info of store.list('blobs/')) listed.push(info.key);
      expect(listed.sort()).toEqual([...keys].sort());
      const none: string[] = [];
      for await (const info of store.list('previews/')) none.push(info.key);
      expect(none).toEqual([]);
    });

    it('lists every blob under a prefix once, with its size, across pages, and nothing outside the prefix', async () => {
      const keys = Array.from({ length: CONTRACT_LIST_PAGE_SIZE * 2 + 5 }, () => newBlobKey());
      const others = [`other/aa/${randomBytes(8).toString('hex')}`, `blobsx/aa/${randomBytes(8).toString('hex')}`];
      for (const [index, key] of [...keys, ...others].entries())
        await store.put(key, Readable.from([Buffer.alloc(index + 1)]));
      const listed = await listAll(store, 'blobs/');
      expect(listed.map((info) => info.key).sort()).toEqual([...keys].sort());
      expect(listed.map((info) => info.size).sort((a, b) => a - b)).toEqual(keys.map((_, index) => index + 1));
      const directory = keys[0].slice(0, keys[0].lastIndexOf('/') + 1);
      expect((await listAll(store, directory)).map((info) => info.key).sort()).toEqual(
        keys.filter((key) => key.startsWith(directory)).sort(),
      );
      expect((await listAll(store, 'other/')).map((info) => info.key)).toEqual([others[0]]);
    });

    it('leaves nothing visible when the source stream fails', async () => {
      const key = newBlobKey();
      const failing = new Readable({
        read() {
          this.push(Buffer.alloc(1000));
          this.destroy(new Error('client went away'));
        },
      });
      await expect(store.put(key, failing)).rejects.toThrow('client went away');
      expect(await store.head(key)).toBeNull();
      expect(await listAll(store, 'blobs/')).toEqual([]);
    });

    it('leaves nothing visible when the source fails after several MiB', async () => {
      const key = newBlobKey();
      const source = stalledSource(randomBytes(SEVERAL_MIB), 7 * MiB);
      void source.stalled.then(() => source.stream.destroy(new Error('client went away')));
      await expect(store.put(key, source.stream)).rejects.toThrow('client went away');
      expect(await store.head(key)).toBeNull();
      expect(await listAll(store, 'blobs/')).toEqual([]);
    });

    it('stops a put whose signal aborts, tears its source down and leaves nothing visible', async () => {
      const key = newBlobKey();
      const source = stalledSource(randomBytes(SEVERAL_MIB), 7 * MiB);
      const controller = new AbortController();
      const reason = new Error('upload cancelled');
      void source.stalled.then(() => controller.abort(reason));
      const error = await store.put(key, source.stream, { signal: controller.signal }).then(
        () => 'resolved',
        (e: Error) => e,
      );
      expect(error === reason || (error as Error).name === 'AbortError').toBe(true); // the reason, or an AbortError for it
      expect(source.stream.destroyed).toBe(true);
      expect(await store.head(key)).toBeNull();
      expect(await listAll(store, 'blobs/')).toEqual([]);
    });

    it('shows a blob only once its put is complete', async () => {
      const key = newBlobKey();
      const data = randomBytes(SEVERAL_MIB);
      const source = stalledSource(data, 7 * MiB);
      const put = store.put(key, source.stream);
      await source.stalled; // the store has taken 7 MiB and waits for more
      expect(await store.head(key)).toBeNull();
      expect(await listAll(store, 'blobs/')).toEqual([]);
      source.finish();
      expect(await put).toEqual({ size: data.length });
      expect(sha256(await readAll(await store.get(key)))).toBe(sha256(data));
    });

    it('refuses keys the service could not have made', async () => {
      for (const bad of ['../etc/passwd', 'blobs/../../x', '/abs', 'blobs/a b', '']) {
        await expect(store.put(bad, Readable.from([Buffer.from('x')]))).rejects.toThrow(/invalid blob key/);
      }
    });

    it('passes its health check', async () => {
      await expect(store.health()).resolves.toBeUndefined();
    });
  });
}

function* chunks(data: Buffer, size: number): Generator<Buffer> {
  for (let offset = 0; offset < data.length; offset += size) yield data.subarray(offset, offset + size);
}

async function listAll(store: BlobStore, prefix: string): Promise<{ key: string; size: number }[]> {
  const listed: { key: string; size: number }[] = [];
  for await (const { key, size } of store.list(prefix)) listed.push({ key, size });
  return listed;
}

/**
 * A source that gives `data` up to `stallAt` bytes, then holds: `stalled` resolves when the
 * reader has taken all of that and asks for more; `finish()` gives the rest and ends.
 */
function stalledSource(data: Buffer, stallAt: number): { stream: Readable; stalled: Promise<void>; finish(): void } {
  let offset = 0;
  let held = false;
  let onStall: () => void = () => {};
  const stalled = new Promise<void>((resolve) => (onStall = resolve));
  const stream = new Readable({
    highWaterMark: 64 * 1024,
    read() {
      if (offset < stallAt) {
        this.push(data.subarray(offset, (offset += 64 * 1024)));
      } else if (!held) {
        held = true;
        onStall();
      }
    },
  });
  const finish = () => {
    stream.push(data.subarray(offset));
    stream.push(null);
  };
  return { stream, stalled, finish };
}
