import { Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { BLOB_STORE, type BlobStore } from './blob-store.js';
import { STORAGE_ADAPTERS } from './storage-adapters.js';

/** The one place that chooses the storage adapter (STORAGE_DRIVER), from the table of built ones. */
export function createBlobStore(config: AppConfig): Promise<BlobStore> {
  const create = STORAGE_ADAPTERS[config.storage.driver];
  // load-config.ts refuses an unbuilt driver before anything starts; this is the last guard.
  if (!create) throw new Error(`STORAGE_DRIVER=${config.storage.driver} is not built`);
  return create(config);
}

@Module({
  providers: [{ provide: BLOB_STORE, inject: [APP_CONFIG], useFactory: createBlobStore }],
  exports: [BLOB_STORE],
})
export class StorageModule {}
