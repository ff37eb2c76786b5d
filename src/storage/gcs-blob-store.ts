import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Bucket, type GetFilesOptions, Storage } from '@google-cloud/storage';
import { assertValidKey } from './blob-keys.js';
import { type BlobInfo, BlobNotFoundError, type BlobStore, type ByteRange, putFileByStream } from './blob-store.js';
import { ByteCounter } from './byte-counter.js';
import { storeFailure } from './store-unavailable.js';

export interface GcsTimeouts {
  /** From sending a request to the headers of its answer: reads, lists, deletes. */
  answerMs: number;
  /** The same for a put, whose one request carries the whole blob before it is answered. */
  uploadMs: number;
  /** Retries of a failed idempotent request (a put is not retried: a simple upload has no precondition). */
  retries: number;
}

export interface GcsBlobStoreOptions {
  bucket: string;
  /** Unset: the project of the credentials. */
  projectId?: string;
  /** Another endpoint than storage.googleapis.com: a private one, or an emulator (http://). */
  apiEndpoint?: string;
  /** Objects per list page (GCS's default and maximum: 1000). */
  listPageSize?: number;
  timeouts?: Partial<GcsTimeouts>;
}

// A hung store fails the request (answered 503) instead of holding it. Uploads count their
// whole body: two minutes carry a 100 MB video at under 1 MB/s.
const DEFAULT_TIMEOUTS: GcsTimeouts = { answerMs: 30_000, uploadMs: 120_000, retries: 1 };

/** Blobs as objects of one Google Cloud Storage bucket, through the JSON API. */
export class GcsBlobStore implements BlobStore {
  private readonly bucket: Bucket;
  /** The same bucket through a client with the upload time-out (the library has one time-out per client). */
  private readonly uploads: Bucket;
  private readonly pageSize: number;

  constructor(options: GcsBlobStoreOptions) {
    const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    const client = (timeout: number) =>
      new Storage({
        projectId: options.projectId,
        apiEndpoint: options.apiEndpoint,
        // Credentials the standard Google way (Application Default Credentials: GOOGLE_APPLICATION_CREDENTIALS,
        // the metadata server, gcloud's). The library skips them for any custom endpoint; only a plain-http
        // one (an emulator) goes without: a bearer token must not travel unencrypted.
        useAuthWithCustomEndpoint: !options.apiEndpoint?.startsWith('http:'),
        timeout,
        retryOptions: {
          maxRetries: timeouts.retries,
          totalTimeout: Math.ceil(((timeouts.retries + 1) * timeout) / 1000),
        },
      });
    this.bucket = client(timeouts.answerMs).bucket(options.bucket);
    this.uploads = client(timeouts.uploadMs).bucket(options.bucket);
    this.pageSize = options.listPageSize ?? 1000;
  }

  async put(key: string, source: Readable, options: { signal?: AbortSignal } = {}): Promise<{ size: number }> {
    assertValidKey(key);
    const counter = new ByteCounter();
    // One multipart request, all or nothing: the object exists only once the whole body arrived.
    // Not resumable: chunked resumable uploads do not work on the Firebase storage emulator (our test
    // server), and a session would be one more thing to clean up after a failure. The library cannot
    // cancel a simple upload: one that fails mid-way leaves its request open, its body unfinished
    // (so no object), until the upload time-out.
    const sink = this.uploads
      .file(key)
      .createWriteStream({ resumable: false, contentType: 'application/octet-stream' });
    try {
      await pipeline(source, counter, sink, { signal: options.signal });
      return { size: counter.bytes };
    } catch (error) {
      throw options.signal?.aborted ? options.signal.reason : storeFailure(error);
    }
  }

  putFile(key: string, path: string): Promise<{ size: number }> {
    return putFileByStream(this, key, path);
  }

  /** Resolves once the answer's headers are in: a missing blob rejects here, not later in the stream. */
  async get(key: string, range?: ByteRange): Promise<Readable> {
    assertValidKey(key);
    const stream = this.bucket.file(key).createReadStream(range ? { start: range.start, end: range.end } : {});
    stream.read(0); // the library sends the request at the first read; read(0) takes no data
    try {
      const [response] = (await once(stream, 'response')) as [{ statusCode: number }];
      if (response.statusCode === 404) throw new BlobNotFoundError(key);
      // The library fails the stream for any other error answer, with the answer's body as message.
      if (response.statusCode >= 300) throw (await once(stream, 'error'))[0];
      return stream;
    } catch (error) {
      stream.destroy();
      throw error instanceof BlobNotFoundError ? error : storeFailure(error);
    }
  }

  async head(key: string): Promise<BlobInfo | null> {
    assertValidKey(key);
    try {
      const [metadata] = await this.bucket.file(key).getMetadata();
      return { key, size: Number(metadata.size), lastModified: new Date(metadata.updated as string) };
    } catch (error) {
      if (isMissing(error)) return null;
      throw storeFailure(error);
    }
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    try {
      await this.bucket.file(key).delete();
    } catch (error) {
      if (!isMissing(error)) throw storeFailure(error);
    }
  }

  async *list(prefix: string): AsyncIterable<BlobInfo> {
    let query: GetFilesOptions | null = { prefix, maxResults: this.pageSize, autoPaginate: false };
    while (query) {
      let files;
      try {
        [files, query] = await this.bucket.getFiles(query);
      } catch (error) {
        throw storeFailure(error);
      }
      for (const file of files) {
        yield {
          key: file.name,
          size: Number(file.metadata.size),
          lastModified: new Date(file.metadata.updated as string),
        };
      }
    }
  }

  /** Lists one object: needs only the permission the store needs anyway (reading a bucket's metadata needs storage.buckets.get). */
  async health(): Promise<void> {
    try {
      await this.bucket.getFiles({ maxResults: 1, autoPaginate: false });
    } catch (error) {
      throw storeFailure(error);
    }
  }
}

function isMissing(error: unknown): boolean {
  return (error as { code?: unknown })?.code === 404;
}
