import { addAbortSignal, pipeline, type Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  paginateListObjectsV2,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { assertValidKey } from './blob-keys.js';
import { type BlobInfo, BlobNotFoundError, type BlobStore, type ByteRange, putFileByStream } from './blob-store.js';
import { ByteCounter } from './byte-counter.js';
import { ByteWindow } from './byte-window.js';
import { storeFailure } from './store-unavailable.js';

export interface S3Timeouts {
  /** Establishing the TCP (and TLS) connection. */
  connectMs: number;
  /** From sending a request, its body included (one part at most), to the headers of the answer. */
  answerMs: number;
  /** A socket without traffic: a body that stopped mid-way, or one nobody reads. */
  idleMs: number;
  /** Tries per request: the SDK retries time-outs, 5xx answers and throttling, with backoff. */
  attempts: number;
}

export interface S3BlobStoreOptions {
  bucket: string;
  region: string;
  /** MinIO, GCS interoperability, s3rver...; unset: AWS. */
  endpoint?: string;
  forcePathStyle?: boolean;
  /** Unset: the SDK's default chain (environment, shared files, web identity, task or instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Keys per ListObjectsV2 page (S3's default and maximum: 1000). */
  listPageSize?: number;
  timeouts?: Partial<S3Timeouts>;
}

// A hung store fails the request within about a minute (two tries of 30 s), answered 503, instead of
// holding it. Idle is generous: a slow download client pauses our read of the object as well.
const DEFAULT_TIMEOUTS: S3Timeouts = { connectMs: 5_000, answerMs: 30_000, idleMs: 120_000, attempts: 2 };
/** Parts of one put in flight at once, each held in memory (5 MiB, S3's minimum part size): 10 MiB a put. */
const PARTS_IN_FLIGHT = 2;

/** Blobs as objects of one S3 bucket (AWS, MinIO, GCS interoperability, any S3-compatible server). */
export class S3BlobStore implements BlobStore {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly pageSize: number;

  constructor(options: S3BlobStoreOptions) {
    const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.bucket = options.bucket;
    this.pageSize = options.listPageSize ?? 1000;
    this.client = new S3Client({
      region: options.region,
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle,
      credentials: options.credentials,
      // Checksums only where an operation requires them. By default (SDK ≥ 3.729) every upload carries
      // CRC32 headers, and a body streamed without a known length goes in aws-chunked framing with a
      // trailing checksum. Servers that do not implement these (s3rver, older MinIO, GCS interoperability)
      // refuse such requests, or store the framing as the object's bytes: every blob silently
      // corrupted, found only when it is read. Nor do they send the checksums a read would check.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: timeouts.attempts,
      requestHandler: {
        connectionTimeout: timeouts.connectMs,
        requestTimeout: timeouts.answerMs,
        throwOnRequestTimeout: true, // otherwise a request past requestTimeout only logs a warning
        socketTimeout: timeouts.idleMs,
      },
    });
  }

  async put(key: string, source: Readable, options: { signal?: AbortSignal } = {}): Promise<{ size: number }> {
    assertValidKey(key);
    const { signal } = options;
    const counter = new ByteCounter();
    // Upload sends small bodies as one PutObject and larger ones as a multipart upload, which it
    // aborts on failure (leavePartsOnError: false): S3 shows an object only once it is complete.
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key: key,
        Body: pipeline(source, counter, () => {}),
        ContentType: 'application/octet-stream',
      },
      queueSize: PARTS_IN_FLIGHT,
      leavePartsOnError: false,
    });
    const abort = () => void upload.abort().catch(() => {});
    signal?.addEventListener('abort', abort, { once: true });
    try {
      if (signal) addAbortSignal(signal, counter);
      await upload.done();
      return { size: counter.bytes };
    } catch (error) {
      source.destroy(); // whatever stopped the upload: a file's descriptor is closed now
      if (signal?.aborted) throw signal.reason;
      // When the source failed, that is the reason, though the SDK may report the failure of its
      // clean-up instead (an AbortMultipartUpload the server refused).
      throw storeFailure(counter.errored ?? error);
    } finally {
      signal?.removeEventListener('abort', abort);
    }
  }

  putFile(key: string, path: string): Promise<{ size: number }> {
    return putFileByStream(this, key, path);
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    assertValidKey(key);
    try {
      const Range = range ? `bytes=${range.start}-${range.end}` : undefined;
      const { Body, ContentRange } = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, Range }),
      );
      const body = Body as Readable; // in Node.js, the response itself (an IncomingMessage)
      if (!range) return body;
      // A server may send more than the range asked for (s3rver answers bytes=0-0 with the
      // whole object): keep only the range, counted from where what it sent starts.
      const sent = /^bytes (\d+)-(\d+)\//.exec(ContentRange ?? '');
      const sentStart = sent ? Number(sent[1]) : 0;
      if (sent && sentStart === range.start && Number(sent[2]) === range.end) return body;
      return pipeline(body, new ByteWindow(range.start - sentStart, range.end - range.start + 1), () => {});
    } catch (error) {
      throw isMissing(error) ? new BlobNotFoundError(key) : storeFailure(error);
    }
  }

  async head(key: string): Promise<BlobInfo | null> {
    assertValidKey(key);
    try {
      const object = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { key, size: object.ContentLength ?? 0, lastModified: object.LastModified ?? new Date(0) };
    } catch (error) {
      if (isMissing(error)) return null;
      throw storeFailure(error);
    }
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      // S3 answers 204 for a missing key; some compatible servers answer 404.
      if (!isMissing(error)) throw storeFailure(error);
    }
  }

  async *list(prefix: string): AsyncIterable<BlobInfo> {
    const pages = paginateListObjectsV2(
      { client: this.client, pageSize: this.pageSize },
      { Bucket: this.bucket, Prefix: prefix },
    );
    try {
      for await (const page of pages) {
        for (const object of page.Contents ?? []) {
          yield { key: object.Key as string, size: object.Size ?? 0, lastModified: object.LastModified ?? new Date(0) };
        }
      }
    } catch (error) {
      throw storeFailure(error);
    }
  }

  async health(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      throw storeFailure(error);
    }
  }
}

/** NoSuchKey from GetObject; NotFound from HEAD, whose answer has no body to name the error. */
function isMissing(error: unknown): boolean {
  const name = (error as { name?: unknown })?.name;
  return name === 'NoSuchKey' || name === 'NotFound';
}
