import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { isMediaError } from '../../src/errors';
import { newBlobKey } from '../../src/storage/blob-keys';
import { S3BlobStore, type S3Timeouts } from '../../src/storage/s3-blob-store';
import { blobStoreContract, CONTRACT_LIST_PAGE_SIZE } from '../support/blob-store.contract';
import { S3RVER_CREDENTIALS, type S3Server, startS3Server } from '../support/s3-server';

let server: S3Server;
beforeAll(async () => {
  server = await startS3Server();
});
afterAll(() => server?.stop());

function s3Store(bucket: string, options: { endpoint?: string; timeouts?: Partial<S3Timeouts> } = {}): S3BlobStore {
  return new S3BlobStore({
    bucket,
    region: 'us-east-1',
    endpoint: options.endpoint ?? server.endpoint,
    forcePathStyle: true,
    credentials: S3RVER_CREDENTIALS,
    listPageSize: CONTRACT_LIST_PAGE_SIZE,
    timeouts: options.timeouts,
  });
}

// s3rver 3.7.1 reads "bytes=0-0" as "bytes=0-" (its FilesystemStore.getObject takes `end || Infinity`)
// and sends the whole object without Content-Range: the adapter keeps the range of it (ByteWindow).
blobStoreContract('s3 (s3rver)', async () => s3Store(await server.newBucket()));

describe('S3BlobStore', () => {
  const quick = { connectMs: 500, answerMs: 500, idleMs: 1000, attempts: 1 };

  it('fails every call to a server that accepts connections but never answers, as DEPENDENCY_UNAVAILABLE', async () => {
    const silent = await blackHole();
    try {
      const store = s3Store('media', { endpoint: silent.endpoint, timeouts: quick });
      const key = newBlobKey();
      const calls: [string, Promise<unknown>][] = [
        ['put', store.put(key, Readable.from([Buffer.from('x')]))],
        ['get', store.get(key)],
        ['head', store.head(key)],
        ['delete', store.delete(key)],
        ['health', store.health()],
        ['list', listAll(store)],
      ];
      const outcomes = await Promise.all(
        calls.map(([name, call]) =>
          within(10_000, call).then(
            () => [name, 'resolved'],
            (error: unknown) => [name, isMediaError(error, 'DEPENDENCY_UNAVAILABLE') ? 'unavailable' : String(error)],
          ),
        ),
      );
      expect(outcomes).toEqual(calls.map(([name]) => [name, 'unavailable']));
      expect(silent.connections()).toBeGreaterThan(0);
    } finally {
      await silent.close();
    }
  });

  it('sends uploads without the flexible checksums that S3-compatible servers may not implement', async () => {
    const seen: Record<string, string | string[] | undefined>[] = [];
    const recorder = createHttpServer((req, res) => {
      seen.push(req.headers);
      req.resume().on('end', () => res.writeHead(200, { ETag: '"0"' }).end());
    });
    await new Promise<void>((resolve) => recorder.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = recorder.address() as { port: number };
      await s3Store('media', { endpoint: `http://127.0.0.1:${port}` }).put(
        newBlobKey(),
        Readable.from([Buffer.alloc(1000)]),
      );
      expect(seen).toHaveLength(1);
      const checksumHeaders = Object.keys(seen[0]).filter(
        (name) =>
          name.startsWith('x-amz-checksum-') || name === 'x-amz-sdk-checksum-algorithm' || name === 'x-amz-trailer',
      );
      expect([checksumHeaders, seen[0]['content-encoding']]).toEqual([[], undefined]);
    } finally {
      recorder.closeAllConnections();
      await new Promise((resolve) => recorder.close(resolve));
    }
  });

  it('answers DEPENDENCY_UNAVAILABLE when nothing listens', async () => {
    const silent = await blackHole();
    await silent.close(); // its port, now closed
    const store = s3Store('media', { endpoint: silent.endpoint, timeouts: quick });
    await expect(store.health()).rejects.toMatchObject({ code: 'DEPENDENCY_UNAVAILABLE', retryAfter: 5 });
  });

  it('keeps the local file when putFile fails, and fails health for a bucket that does not exist (a misconfiguration, not a 503)', async () => {
    const store = s3Store('no-such-bucket');
    const dir = mkdtempSync(join(tmpdir(), 'media-test-putfile-'));
    try {
      const path = join(dir, 'sealed');
      writeFileSync(path, Buffer.alloc(1000));
      const error = await store.putFile(newBlobKey(), path).catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'NoSuchBucket' });
      expect(existsSync(path)).toBe(true);
      const health = await store.health().catch((e: unknown) => e);
      expect(health).toBeInstanceOf(Error);
      expect(isMediaError(health)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

async function listAll(store: S3BlobStore): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of store.list('blobs/')) keys.push(info.key);
  return keys;
}

function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms)),
  );
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** A TCP server on 127.0.0.1 that accepts connections and never says a word. */
async function blackHole(): Promise<{ endpoint: string; connections(): number; close(): Promise<void> }> {
  const sockets: Socket[] = [];
  let accepted = 0;
  const tcp: Server = createServer((socket) => {
    accepted++;
    sockets.push(socket);
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  const { port } = tcp.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    connections: () => accepted,
    close: () => {
      sockets.forEach((socket) => socket.destroy());
      return new Promise((resolve) => tcp.close(() => resolve()));
    },
  };
}
