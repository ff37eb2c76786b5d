import { join } from 'node:path';
import type { AppConfig } from '../config/app-config.js';
import type { BlobStore } from './blob-store.js';

type StorageDriver = AppConfig['storage']['driver'];

/**
 * Every storage driver this build has, and how its adapter is made from the config: the one
 * table that both the factory (storage.module.ts) and the config check (which drivers are
 * built) read. An adapter's module is loaded only when its driver is chosen: the cloud SDKs
 * take about 0.2 s each to load. Keep this file free of Nest: src/config imports it.
 */
export const STORAGE_ADAPTERS: Partial<Record<StorageDriver, (config: AppConfig) => Promise<BlobStore>>> = {
  local: async (config) => {
    const { LocalBlobStore } = await import('./local-blob-store.js');
    return new LocalBlobStore(join(config.dataDir, 'storage'));
  },
  s3: async ({ storage: { s3, timeoutMs } }) => {
    const { S3BlobStore } = await import('./s3-blob-store.js');
    const credentials =
      s3.accessKeyId && s3.secretAccessKey
        ? { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }
        : undefined;
    return new S3BlobStore({
      bucket: s3.bucket as string,
      region: s3.region,
      endpoint: s3.endpoint,
      forcePathStyle: s3.forcePathStyle,
      credentials,
      timeouts: { answerMs: timeoutMs },
    });
  },
  gcs: async ({ storage: { gcs, timeoutMs } }) => {
    const { GcsBlobStore } = await import('./gcs-blob-store.js');
    return new GcsBlobStore({
      bucket: gcs.bucket as string,
      projectId: gcs.projectId,
      apiEndpoint: gcs.apiEndpoint,
      timeouts: { answerMs: timeoutMs },
    });
  },
};
