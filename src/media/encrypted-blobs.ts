import { createReadStream } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { pipeline, Readable } from 'node:stream';
import { bytesOf } from '../common/bytes-of.js';
import { boundedCache } from '../common/cache.js';
import { DEFAULT_SEGMENT_BYTES } from '../crypto/segment-format.js';
import { DataKeyService, type FreshDataKey } from '../crypto/data-key.service.js';
import { type CipherSource, plaintextReader, readPlaintext } from '../crypto/plaintext-reader.js';
import { openSealedBuffer } from '../crypto/segment-decryptor.js';
import { SegmentEncryptor } from '../crypto/segment-encryptor.js';
import type { RandomAccess } from '../detection/random-access.js';
import type { MediaType } from '../detection/media-types.js';
import { newBlobKey } from '../storage/blob-keys.js';
import { HashThread } from './streams/hash-thread.js';
import { Hasher } from './streams/hasher.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { ChangeFeed } from '../db/change-feed.js';
import { BLOB_STORE, type BlobStore, type ByteRange } from '../storage/blob-store.js';

/** The channel a trigger announces released blobs on (migration 20261207000000). */
const BLOB_CHANGES = 'blob_changes';

/** Uploads declared at most this long are hashed on the thread that receives them (see hasher()). */
const INLINE_HASH_BYTES = 4 * 1024 * 1024;

/** Random access to a sealed local file's plaintext, until closed. */
export interface SealedFileAccess extends RandomAccess {
  close(): Promise<void>;
}

export interface BlobRef {
  blobKey: string;
  dataKeyId: string;
  /** Plaintext size. */
  size: number;
}

/**
 * Where plaintext meets storage: sealing under a new data key, moving sealed files into
 * the store, and reading plaintext back out of the store or of a sealed temp file.
 */
@Injectable()
export class EncryptedBlobs implements OnApplicationShutdown {
  private readonly hashThread?: HashThread;
  private readonly env: string;
  /** Ciphertext of one-segment blobs: at most 512 of them and 16 MiB (src/common/cache.ts). */
  private readonly smallBlobs = boundedCache<string, Buffer>({
    max: 512,
    maxBytes: 16 * 1024 * 1024,
    ownBuffers: true,
  });

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(BLOB_STORE) private readonly store: BlobStore,
    private readonly dataKeys: DataKeyService,
    changes: ChangeFeed,
  ) {
    if (config.hashInWorker) this.hashThread = new HashThread();
    this.env = config.env;
    // A blob released by any process (deleted, replaced) leaves every replica's cache.
    changes.subscribe(BLOB_CHANGES, (change) =>
      change === 'reset' ? this.smallBlobs.clear() : this.smallBlobs.delete(change.id),
    );
  }

  /** The hash thread ends with the app: a closed app (a test's, a stopped role's) leaves no thread behind. */
  async onApplicationShutdown(): Promise<void> {
    await this.hashThread?.close();
  }

  /**
   * A pass-through that computes the SHA-256 and MD5 of what goes through it: on the hash
   * thread when configured, unless `expectedBytes` says the stream is small (a declared
   * length up to 4 MiB), where handing batches over costs more than hashing them here.
   */
  hasher(expectedBytes?: number): Hasher {
    const small = expectedBytes !== undefined && expectedBytes > 0 && expectedBytes <= INLINE_HASH_BYTES;
    return new Hasher(['sha256', 'md5'], small ? undefined : this.hashThread);
  }

  /** A new data key of `ownerId` and the transform that seals a stream under it. */
  async sealer(ownerId: string): Promise<{ dataKey: FreshDataKey; encryptor: SegmentEncryptor }> {
    const dataKey = await this.dataKeys.issue(ownerId);
    return { dataKey, encryptor: new SegmentEncryptor({ key: dataKey.key, dataKeyId: dataKey.id }) };
  }

  /**
   * Random access to the plaintext of a sealed local file (an upload's temp file), through
   * one file handle opened at the first read and kept until `close()`, which the reader's
   * owner must call (it waits for reads in flight; reads after it fail).
   */
  sealedFile(path: string, dataKey: FreshDataKey, size: number): SealedFileAccess {
    let handle: Promise<FileHandle> | undefined;
    let closed = false;
    const reader = plaintextReader(
      async (range) => {
        if (closed) throw new Error(`sealed file ${path} read after close`);
        return readRange(await (handle ??= open(path, 'r')), range);
      },
      { key: dataKey.key, dataKeyId: dataKey.id, size },
    );
    return {
      ...reader,
      close: async () => {
        closed = true;
        await handle?.then(
          (file) => file.close(),
          () => {},
        );
      },
    };
  }

  /** Random access to the plaintext of a stored blob (segments read and cached as needed). */
  async storedFile(ref: BlobRef): Promise<RandomAccess> {
    const key = await this.dataKeys.open(ref.dataKeyId);
    return plaintextReader(async (part) => bytesOf(await this.store.get(ref.blobKey, part)), {
      key,
      dataKeyId: ref.dataKeyId,
      size: ref.size,
    });
  }

  /**
   * Moves a sealed local file (a media of `type`) into storage under a new key; returns the key.
   * The store... methods add the new key to `written` before they write: a put that fails or
   * times out may still leave an object behind, and the caller must know what to delete.
   */
  async storeFile(path: string, type: MediaType, written: string[]): Promise<string> {
    const blobKey = this.newKey(type, written);
    await this.store.putFile(blobKey, path);
    return blobKey;
  }

  /** Seals `data` (a preview, or a processed version streamed from its file, already hashed) under a new data key of `ownerId` into storage. */
  async storeSealed(
    ownerId: string,
    type: MediaType,
    data: Buffer | Readable,
    written: string[],
  ): Promise<{ blobKey: string; dataKey: FreshDataKey }> {
    const { dataKey, encryptor } = await this.sealer(ownerId);
    const blobKey = this.newKey(type, written);
    if (Buffer.isBuffer(data)) encryptor.end(data);
    else pipeline(data, encryptor, () => {}); // an error tears the encryptor down, which fails the put
    await this.store.put(blobKey, encryptor);
    return { blobKey, dataKey };
  }

  /** Seals a stream under a new data key of `ownerId` into storage, hashing it on the way. */
  async storeSealedStream(
    ownerId: string,
    type: MediaType,
    source: Readable,
    written: string[],
  ): Promise<{ blobKey: string; dataKey: FreshDataKey; size: number; sha256: string; md5: string }> {
    const { dataKey, encryptor } = await this.sealer(ownerId);
    const hasher = this.hasher();
    const blobKey = this.newKey(type, written);
    // pipeline tears every stage down on an error, which then fails the put.
    await this.store.put(
      blobKey,
      pipeline(source, hasher, encryptor, () => {}),
    );
    return { blobKey, dataKey, size: hasher.bytes, sha256: hasher.digest('sha256'), md5: hasher.digest('md5') };
  }

  /** A stream of the whole plaintext of a sealed local file. */
  openSealedFile(path: string, dataKey: FreshDataKey, size: number): Promise<Readable> {
    const source: CipherSource = async (range) => createReadStream(path, range ?? {});
    return readPlaintext(source, { key: dataKey.key, dataKeyId: dataKey.id, size });
  }

  /**
   * The plaintext of a stored blob, or of the inclusive `range`, decrypting only the segments
   * needed. Blobs of one segment (previews, small files: what a chat list fetches by the
   * dozen) are read whole and their ciphertext kept in a small cache: blob keys are never
   * reused, so a cached blob cannot go stale; a released one is dropped here at once
   * (forget) and on every replica by the change feed.
   */
  async read(ref: BlobRef, range?: ByteRange): Promise<Readable> {
    const key = await this.dataKeys.open(ref.dataKeyId);
    const source =
      ref.size <= DEFAULT_SEGMENT_BYTES
        ? await this.smallBlob(ref.blobKey)
        : (part?: ByteRange) => this.store.get(ref.blobKey, part);
    return readPlaintext(source, { key, dataKeyId: ref.dataKeyId, size: ref.size }, range);
  }

  /**
   * What a download answers with: a small blob's plaintext (or the range of it) as one
   * buffer, opened from the cached ciphertext in one call (no stream: one write to the
   * socket); a larger one as read() streams it.
   */
  async readToSend(ref: BlobRef, range?: ByteRange): Promise<Readable | Buffer> {
    if (ref.size > DEFAULT_SEGMENT_BYTES) return this.read(ref, range);
    const key = await this.dataKeys.open(ref.dataKeyId);
    const plain = openSealedBuffer(await this.smallCiphertext(ref.blobKey), { ...ref, key });
    return range ? plain.subarray(range.start, range.end + 1) : plain;
  }

  private async smallBlob(blobKey: string): Promise<CipherSource> {
    const bytes = await this.smallCiphertext(blobKey);
    return async (part) => Readable.from([part ? bytes.subarray(part.start, part.end + 1) : bytes]);
  }

  private async smallCiphertext(blobKey: string): Promise<Buffer> {
    let sealed = this.smallBlobs.get(blobKey);
    if (!sealed) {
      sealed = await bytesOf(await this.store.get(blobKey));
      this.smallBlobs.set(blobKey, sealed);
    }
    return sealed;
  }

  /** Forgets a deleted media: the unwrapped keys and the cached ciphertext this process holds of it. */
  forget(removed: { blobKeys: string[]; dataKeyIds: string[] }): void {
    this.dataKeys.forget(removed.dataKeyIds);
    for (const key of removed.blobKeys) this.smallBlobs.delete(key);
  }

  /** A key under this environment and the media's type (a preview goes with its media's type). */
  /** A new blob key, added to `written`. */
  private newKey(type: MediaType, written: string[]): string {
    const key = newBlobKey({ env: this.env, type });
    written.push(key);
    return key;
  }

  async delete(blobKeys: string[]): Promise<void> {
    await Promise.all(blobKeys.map((key) => this.store.delete(key)));
  }
}

/** The bytes of `file` in the inclusive `range`: one positioned read (fewer at the file's end). */
async function readRange(file: FileHandle, range: ByteRange): Promise<Buffer> {
  const bytes = Buffer.allocUnsafe(range.end - range.start + 1);
  let filled = 0;
  while (filled < bytes.length) {
    const { bytesRead } = await file.read(bytes, filled, bytes.length - filled, range.start + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return bytes.subarray(0, filled);
}
