import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { newBlobKey } from '../../../src/storage/blob-keys';
import { LocalBlobStore } from '../../../src/storage/local-blob-store';
import { blobStoreContract } from '../../support/blob-store.contract';

const roots: string[] = [];
afterAll(() => roots.forEach((root) => rmSync(root, { recursive: true, force: true })));

function freshRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'media-test-store-'));
  roots.push(root);
  return root;
}

blobStoreContract('local', async () => new LocalBlobStore(freshRoot()));

describe('LocalBlobStore', () => {
  it('writes blobs readable by the owner only, leaving no staging files', async () => {
    const root = freshRoot();
    const store = new LocalBlobStore(root);
    const key = newBlobKey();
    await store.put(key, Readable.from([Buffer.from('secret')]));
    expect(statSync(join(root, ...key.split('/'))).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(root, '.staging'))).toEqual([]);
  });
});
