import { createServer, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { isMediaError } from '../../src/errors';
import { newBlobKey } from '../../src/storage/blob-keys';
import { GcsBlobStore, type GcsTimeouts } from '../../src/storage/gcs-blob-store';
import { blobStoreContract, CONTRACT_LIST_PAGE_SIZE } from '../support/blob-store.contract';
import { type GcsServer, startGcsServer } from '../support/gcs-server';

let server: GcsServer;
beforeAll(async () => {
  server = await startGcsServer();
});
afterAll(() => server?.stop());

function gcsStore(
  bucket: string,
  options: { apiEndpoint?: string; timeouts?: Partial<GcsTimeouts> } = {},
): GcsBlobStore {
  return new GcsBlobStore({
    bucket,
    projectId: server.projectId,
    apiEndpoint: options.apiEndpoint ?? server.apiEndpoint,
    listPageSize: CONTRACT_LIST_PAGE_SIZE,
    timeouts: options.timeouts,
  });
}

blobStoreContract('gcs (Firebase storage emulator)', async () => gcsStore(server.newBucket()));

describe('GcsBlobStore', () => {
  it('fails every call to a server that accepts connections but never answers, as DEPENDENCY_UNAVAILABLE', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as { port: number };
      const store = gcsStore('media', {
        apiEndpoint: `http://127.0.0.1:${port}`,
        timeouts: { answerMs: 500, uploadMs: 500, retries: 0 },
      });
      const key = newBlobKey();
      const calls: [string, Promise<unknown>][] = [
        ['put', store.put(key, Readable.from([Buffer.from('x')]))],
        ['get', store.get(key)],
        ['head', store.head(key)],
        ['delete', store.delete(key)],
        ['health', store.health()],
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
      expect(sockets.length).toBeGreaterThan(0);
    } finally {
      sockets.forEach((socket) => socket.destroy());
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms)),
  );
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
