import type { MediaType } from '../detection/media-types.js';

export type MediaRole = 'api' | 'worker' | 'all';

/** The typed configuration every component receives by injection; built once at boot. */
export interface AppConfig {
  env: 'development' | 'production' | 'test';
  role: MediaRole;
  logLevel: string;
  /** Where the JSON log lines go instead of standard output. */
  logFile?: string;
  /** OTLP/HTTP traces: where to (unset: tracing off) and under which service name. */
  tracing: { endpoint?: string; serviceName: string };
  port: number;
  /** How long in-flight requests may finish after a stop signal before they are aborted. */
  shutdownGraceMs: number;
  dataDir: string;
  /** Set at boot: from DATABASE_URL, or the embedded server's URL. */
  databaseUrl?: string;
  redisUrl?: string;
  /** Origins a browser may call the API from (CORS_ALLOWED_ORIGINS); empty: no cross-origin access. */
  corsAllowedOrigins: string[];
  /** An unfinished resumable (tus) upload is removed this long after its last PATCH (TUS_UPLOAD_EXPIRY_SECONDS). */
  tusUploadExpiryMs: number;
  storage: {
    driver: 'local' | 's3' | 'gcs';
    /** Readiness fails while DATA_DIR has less free space than this (STORAGE_MIN_FREE_BYTES; 0: not checked). */
    minFreeBytes: number;
    /** How long a bucket (s3, gcs) may take to answer one request before it is tried again, then answered 503 (STORAGE_TIMEOUT_MS). */
    timeoutMs: number;
    s3: {
      endpoint?: string;
      region: string;
      bucket?: string;
      accessKeyId?: string;
      secretAccessKey?: string;
      forcePathStyle: boolean;
    };
    gcs: { bucket?: string; projectId?: string; apiEndpoint?: string };
  };
  auth: {
    jwtSecret?: string;
    jwtPublicKey?: string;
    jwksUrl?: string;
    issuer?: string;
    audience?: string;
  };
  /** Master keys in order; the first is current. */
  masterKeys: { id: string; key: Buffer }[];
  /** HMAC keys of signed URLs (SIGNED_URL_KEYS) in order; the first signs, all verify. */
  signedUrlKeys: { id: string; key: Buffer }[];
  /** The files the key lists are re-read from on SIGHUP (undefined: given by a variable, fixed). */
  keyFiles: { master?: string; signedUrl?: string };
  /** Our gRPC API (proto/media.proto); port 0: off. With apiToken, every call must carry it. */
  grpc: { host: string; port: number; apiToken?: string };
  peers: { authUrl?: string; userUrl?: string; moderationUrl?: string };
  moderationFailureMode: 'closed' | 'open';
  /** Hamming distance within which two perceptual hashes are the same picture (PHASH_MAX_DISTANCE). */
  phashMaxDistance: number;
  clamavUrl?: string;
  /** Decoder limits: a hostile file is refused before it can exhaust memory or time. */
  processing: {
    image: { maxPixels: number; maxFrames: number };
    /** Estimated seconds of transcoding an upload may wait for; more is finished by a worker (202). */
    budgetSeconds: number;
    /** Longest video or audio accepted. */
    maxDurationSeconds: number;
  };
  /** Upload digests on a worker thread (HASH_IN_WORKER). */
  hashInWorker: boolean;
  /** The background queue: heavy jobs at once per worker, retries, and how long a job may run before it is presumed dead. */
  jobs: {
    concurrency: number;
    retryLimit: number;
    expireSeconds: number;
    pollSeconds: number;
    maintenanceSeconds: number;
  };
  limits: {
    quotaBytes: number;
    dailyUploads: number;
    requestsPerMinute: number;
    uploadConcurrency: number;
    uploadBytesPerSecond: number;
    maxBytes: Record<MediaType, number>;
  };
}

export const APP_CONFIG = Symbol('APP_CONFIG');
