import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { buffer as collect } from 'node:stream/consumers';
import { newBlobKey } from '../../src/storage/blob-keys';
import { BlobNotFoundError, type BlobStore } from '../../src/storage/blob-store';

const readAll = collect;

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
      expect(await store.put(key, Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]))).toEqual({ size: data.length });
      expect((await readAll(await store.get(key))).equals(data)).toBe(true);
      expect((await readAll(await store.get(key, { start: 1000, end: 1999 }))).equals(data.subarray(1000, 2000))).toBe(true);
      expect((await readAll(await store.get(key, { start: 299_990, end: 299_999 }))).equals(data.subarray(299_990))).toBe(true);
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

    it('rejects a read of a missing blob with BlobNotFoundError', async () => {
      await expect(store.get(newBlobKey())).rejects.toBeInstanceOf(BlobNotFoundError);
    });

    it('deletes, and deleting twice is fine', async () => {
      const key = newBlobKey();
      await store.put(key, Readable.from([Buffer.from('x')]));
      await store.delete(key);
      await store.delete(key);
      expect(await store.head(key)).toBeNull();
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
      const listed: string[] = [];
      for await (const info of store.list('blobs/')) listed.push(info.key);
      expect(listed).toEqual([]);
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
