import { Module } from '@nestjs/common';
import { join } from 'node:path';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { BLOB_STORE, type BlobStore } from './blob-store.js';
import { LocalBlobStore } from './local-blob-store.js';

/** The one place that chooses the storage adapter. */
export function createBlobStore(config: AppConfig): BlobStore {
  switch (config.storage.driver) {
    case 'local':
      return new LocalBlobStore(join(config.dataDir, 'storage'));
    default:
      throw new Error(`STORAGE_DRIVER=${config.storage.driver} is not available in this build yet; use "local"`);
  }
}

@Module({
  providers: [{ provide: BLOB_STORE, inject: [APP_CONFIG], useFactory: createBlobStore }],
  exports: [BLOB_STORE],
})
export class StorageModule {}
