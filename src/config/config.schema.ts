import Joi from 'joi';
import { MEDIA_TYPE_TABLE, MEDIA_TYPES, type MediaType } from '../detection/media-types.js';
import { STORAGE_ADAPTERS } from '../storage/storage-adapters.js';

const MB = 1024 * 1024;

/** The size limit's variable of each media type: MAX_IMAGE_BYTES, MAX_VIDEO_BYTES, ... */
export function maxBytesVariable(type: MediaType): string {
  return `MAX_${type.toUpperCase()}_BYTES`;
}

/** `keyId:base64(32 bytes)`, comma-separated (MEDIA_MASTER_KEYS, SIGNED_URL_KEYS). */
const keyList = Joi.string().pattern(
  /^[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/]{43}=(,[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/]{43}=)*$/,
  'keyId:base64(32 bytes)[,...]',
);

const hostPort = Joi.string().pattern(/^[A-Za-z0-9.-]+:\d{1,5}$/, 'host:port');

/** Every environment variable (docs/configuration.md), validated at once. */
export const envSchema = Joi.object({
  NODE_ENV: Joi.string().valid('development', 'production', 'test').default('development'),
  MEDIA_ROLE: Joi.string().valid('api', 'worker', 'all').default('all'),
  LOG_LEVEL: Joi.string().valid('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent').default('info'),
  // Logs go to standard output unless a file is named (appended to, created with its directory).
  LOG_FILE: Joi.string(),
  PORT: Joi.number().port().default(3000),
  DATA_DIR: Joi.string().default('./data'),
  DATABASE_URL: Joi.string().uri({ scheme: ['postgres', 'postgresql'] }),
  REDIS_URL: Joi.string().uri({ scheme: ['redis', 'rediss'] }),
  CORS_ALLOWED_ORIGINS: Joi.string().allow('').default(''),
  TUS_UPLOAD_EXPIRY_SECONDS: Joi.number().integer().min(60).default(86_400),
  STORAGE_DRIVER: Joi.string().valid('local', 's3', 'gcs').default('local'),
  // Operational: /health/ready fails while DATA_DIR (temp files; blobs with the local driver)
  // has less free space; 256 MiB holds one more upload of the largest default limit (a 100 MB
  // video: its sealed temp file, a work copy, the stored version). 0 turns the check off.
  STORAGE_MIN_FREE_BYTES: Joi.number()
    .integer()
    .min(0)
    .default(256 * MB),
  STORAGE_TIMEOUT_MS: Joi.number().integer().min(100).default(30_000),
  S3_ENDPOINT: Joi.string().uri(),
  S3_REGION: Joi.string().default('us-east-1'),
  S3_BUCKET: Joi.string(),
  S3_ACCESS_KEY_ID: Joi.string(),
  S3_SECRET_ACCESS_KEY: Joi.string(),
  S3_FORCE_PATH_STYLE: Joi.boolean().default(false),
  GCS_BUCKET: Joi.string(),
  GCS_PROJECT_ID: Joi.string(),
  GCS_API_ENDPOINT: Joi.string().uri(),
  AUTH_JWT_SECRET: Joi.string().min(32),
  AUTH_JWT_PUBLIC_KEY: Joi.string().pattern(/-----BEGIN PUBLIC KEY-----/, 'PEM public key'),
  AUTH_JWKS_URL: Joi.string().uri({ scheme: ['http', 'https'] }),
  AUTH_JWT_ISSUER: Joi.string(),
  AUTH_JWT_AUDIENCE: Joi.string(),
  MEDIA_MASTER_KEYS: keyList,
  SIGNED_URL_KEYS: keyList,
  // The same lists in files (a mounted Secret): re-read while the service serves (key rotation).
  MEDIA_MASTER_KEYS_FILE: Joi.string(),
  SIGNED_URL_KEYS_FILE: Joi.string(),
  GRPC_PORT: Joi.number().port().default(50051),
  GRPC_HOST: Joi.string().hostname().default('127.0.0.1'),
  GRPC_API_TOKEN: Joi.string().min(16),
  AUTH_GRPC_URL: hostPort,
  USER_GRPC_URL: hostPort,
  MODERATION_GRPC_URL: hostPort,
  MODERATION_FAILURE_MODE: Joi.string().valid('closed', 'open').default('closed'),
  CLAMAV_URL: Joi.string().pattern(
    /^(tcp:\/\/[A-Za-z0-9.-]+:\d{1,5}|unix:\/\/\/.+|\/.+)$/,
    'tcp://host:port or a socket path',
  ),
  // Operational: the Hamming distance within which a perceptual hash matches a blocked one.
  PHASH_MAX_DISTANCE: Joi.number().integer().min(0).max(32).default(10),
  QUOTA_STORAGE_BYTES: Joi.number()
    .integer()
    .min(0)
    .default(1024 * MB),
  QUOTA_DAILY_UPLOADS: Joi.number().integer().min(0).default(100),
  RATE_LIMIT_PER_MINUTE: Joi.number().integer().min(1).default(60),
  UPLOAD_CONCURRENCY_PER_USER: Joi.number().integer().min(1).default(3),
  UPLOAD_BYTES_PER_SECOND: Joi.number()
    .integer()
    .min(1024)
    .default(10 * MB),
  ...Object.fromEntries(
    MEDIA_TYPES.map((type) => [
      maxBytesVariable(type),
      Joi.number().integer().min(1).default(MEDIA_TYPE_TABLE[type].defaultMaxBytes),
    ]),
  ),
  MAX_IMAGE_PIXELS: Joi.number().integer().min(1).default(40_000_000),
  MAX_ANIMATION_FRAMES: Joi.number().integer().min(1).default(1000),
  MAX_MEDIA_DURATION_SECONDS: Joi.number()
    .integer()
    .min(1)
    .default(3 * 3600),
  // Operational: compute upload digests (SHA-256, MD5) on a worker thread, off the thread that moves bytes.
  HASH_IN_WORKER: Joi.boolean().default(true),
  PROCESSING_BUDGET_SECONDS: Joi.number().min(0).default(3),
  JOB_CONCURRENCY: Joi.number().integer().min(1).default(1),
  JOB_RETRY_LIMIT: Joi.number().integer().min(0).default(3),
  JOB_EXPIRE_SECONDS: Joi.number().integer().min(1).default(1800),
  JOB_POLL_SECONDS: Joi.number().min(0.5).default(1),
  JOB_MAINTENANCE_SECONDS: Joi.number().integer().min(1).default(60),
  // Operational: how long in-flight requests may run on after SIGTERM/SIGINT. 25 s leaves room
  // for the rest of the shutdown inside Kubernetes' default 30 s termination grace period.
  SHUTDOWN_GRACE_SECONDS: Joi.number().min(0).max(3600).default(25),
  // Traces: OTLP over HTTP to <endpoint>/v1/traces when set (e.g. http://otel-collector:4318); off otherwise.
  OTEL_EXPORTER_OTLP_ENDPOINT: Joi.string().uri({ scheme: ['http', 'https'] }),
  OTEL_SERVICE_NAME: Joi.string().default('media-service'),
})
  .and('S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY')
  .oxor('MEDIA_MASTER_KEYS', 'MEDIA_MASTER_KEYS_FILE')
  .oxor('SIGNED_URL_KEYS', 'SIGNED_URL_KEYS_FILE')
  .oxor('AUTH_JWT_PUBLIC_KEY', 'AUTH_JWKS_URL')
  .unknown(true);

/** Storage drivers whose adapter exists in this build (the factory's table); the schema accepts every driver of the contract. */
export const BUILT_STORAGE_DRIVERS: readonly string[] = Object.keys(STORAGE_ADAPTERS);
