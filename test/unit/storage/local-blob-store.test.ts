import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
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

  it('moves files in again after the directory it made was removed behind its back', async () => {
    const root = freshRoot();
    const store = new LocalBlobStore(root);
    const first = `blobs/test/archive/ab/${'1'.repeat(8)}-aaaa-4aaa-8aaa-${'a'.repeat(12)}`;
    const second = `blobs/test/archive/ab/${'2'.repeat(8)}-aaaa-4aaa-8aaa-${'a'.repeat(12)}`;
    const file = (name: string, content: string) => {
      const path = join(root, name);
      writeFileSync(path, content);
      return path;
    };
    expect(await store.putFile(first, file('one', 'first'))).toEqual({ size: 5 });
    rmSync(dirname(join(root, ...first.split('/'))), { recursive: true });
    expect(await store.putFile(second, file('two', 'second!'))).toEqual({ size: 7 });
    expect(readFileSync(join(root, ...second.split('/')), 'utf8')).toBe('second!');
    await expect(store.putFile(first, join(root, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
