import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILT_STORAGE_DRIVERS } from '../../../src/config/config.schema';
import { loadConfig } from '../../../src/config/load-config';
import { GcsBlobStore } from '../../../src/storage/gcs-blob-store';
import { LocalBlobStore } from '../../../src/storage/local-blob-store';
import { S3BlobStore } from '../../../src/storage/s3-blob-store';
import { STORAGE_ADAPTERS } from '../../../src/storage/storage-adapters';
import { createBlobStore } from '../../../src/storage/storage.module';

describe('choosing the storage adapter', () => {
  const dirs: string[] = [];
  const config = (env: Record<string, string>) => {
    const dir = mkdtempSync(join(tmpdir(), 'media-test-adapters-'));
    dirs.push(dir);
    return loadConfig({ DATA_DIR: dir, ...env });
  };
  afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it('builds local, s3 and gcs, and the config accepts exactly the drivers of the factory table', () => {
    expect(BUILT_STORAGE_DRIVERS).toEqual(Object.keys(STORAGE_ADAPTERS));
    expect([...BUILT_STORAGE_DRIVERS].sort()).toEqual(['gcs', 'local', 's3']);
  });

  it.each([
    ['local', {}, LocalBlobStore],
    ['s3', { S3_BUCKET: 'media', S3_ENDPOINT: 'http://127.0.0.1:9000', S3_FORCE_PATH_STYLE: 'true' }, S3BlobStore],
    ['s3', { S3_BUCKET: 'media', S3_ACCESS_KEY_ID: 'id', S3_SECRET_ACCESS_KEY: 'secret' }, S3BlobStore],
    ['gcs', { GCS_BUCKET: 'media', GCS_API_ENDPOINT: 'http://127.0.0.1:9199' }, GcsBlobStore],
  ] as const)('STORAGE_DRIVER=%s makes its adapter', async (driver, env, adapter) => {
    expect(await createBlobStore(config({ STORAGE_DRIVER: driver, ...env }))).toBeInstanceOf(adapter);
  });

  it('still refuses s3 without S3_BUCKET and gcs without GCS_BUCKET, before anything starts', () => {
    expect(() => config({ STORAGE_DRIVER: 's3' })).toThrow(/S3_BUCKET \(STORAGE_DRIVER=s3\) is required/);
    expect(() => config({ STORAGE_DRIVER: 'gcs' })).toThrow(/GCS_BUCKET \(STORAGE_DRIVER=gcs\) is required/);
  });
});
