import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { MEDIA_TYPES, type MediaType } from '../detection/media-types.js';
import { BUILT_STORAGE_DRIVERS, envSchema, maxBytesVariable } from './config.schema.js';
import type { AppConfig } from './app-config.js';
import {
  devSecret,
  devSecretPath,
  existingDevSecret,
  generateJwtSecret,
  generateMasterKeys,
  generateSignedUrlKeys,
} from './dev-secrets.js';

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

/** Validates the environment (all problems reported at once) and builds the typed config. */
export function loadConfig(source: Env = process.env): AppConfig {
  const { value: env, error } = envSchema.validate(source, { abortEarly: false, convert: true });
  const problems = error?.details.map((d) => d.message) ?? [];
  const driver: string = env?.STORAGE_DRIVER ?? 'local';
  const driverRefused = error?.details.some((detail) => detail.path[0] === 'STORAGE_DRIVER');
  if (!driverRefused && !BUILT_STORAGE_DRIVERS.includes(driver)) {
    // A contract value without an adapter yet: refused with the other problems, before anything starts.
    problems.push(`"STORAGE_DRIVER" ${driver}: the ${driver} storage adapter is not built yet; use "local"`);
  }
  if (problems.length) {
    throw new ConfigError(`Invalid configuration:\n${problems.map((message) => `  - ${message}`).join('\n')}`);
  }
  const production = env.NODE_ENV === 'production';
  const missing: string[] = [];
  const hasVerifier = env.AUTH_JWT_SECRET || env.AUTH_JWT_PUBLIC_KEY || env.AUTH_JWKS_URL;
  if (production && !hasVerifier) missing.push('AUTH_JWT_SECRET (or AUTH_JWT_PUBLIC_KEY or AUTH_JWKS_URL)');
  if (production && !env.MEDIA_MASTER_KEYS && !env.MEDIA_MASTER_KEYS_FILE) missing.push('MEDIA_MASTER_KEYS');
  if (production && !env.SIGNED_URL_KEYS && !env.SIGNED_URL_KEYS_FILE) missing.push('SIGNED_URL_KEYS');
  if (production && env.GRPC_PORT !== 0 && !isLoopback(env.GRPC_HOST) && !env.GRPC_API_TOKEN) {
    // Its callers act for any user: beyond loopback it is guarded by a token as well as by the mesh.
    missing.push(`GRPC_API_TOKEN (GRPC_HOST=${env.GRPC_HOST} is not a loopback address)`);
  }
  if (env.STORAGE_DRIVER === 's3' && !env.S3_BUCKET) missing.push('S3_BUCKET (STORAGE_DRIVER=s3)');
  if (env.STORAGE_DRIVER === 'gcs' && !env.GCS_BUCKET) missing.push('GCS_BUCKET (STORAGE_DRIVER=gcs)');
  if (missing.length) {
    throw new ConfigError(`Missing configuration:\n${missing.map((name) => `  - ${name} is required`).join('\n')}`);
  }
  const dataDir = resolve(env.DATA_DIR);
  const jwtSecret =
    env.AUTH_JWT_SECRET ?? (hasVerifier ? undefined : devSecret(dataDir, 'jwt-secret', generateJwtSecret));
  // Where each key list comes from: the variable (fixed for the process's life), or a file
  // re-read on SIGHUP (lifecycle/key-rotation.ts): MEDIA_MASTER_KEYS_FILE, or DATA_DIR's development secret.
  const keyFiles = {
    master: env.MEDIA_MASTER_KEYS ? undefined : (env.MEDIA_MASTER_KEYS_FILE ?? devSecretPath(dataDir, 'master-keys')),
    signedUrl: env.SIGNED_URL_KEYS
      ? undefined
      : (env.SIGNED_URL_KEYS_FILE ?? devSecretPath(dataDir, 'signed-url-keys')),
  };
  const masterKeys = parseKeyList(
    'MEDIA_MASTER_KEYS',
    env.MEDIA_MASTER_KEYS ??
      keyFileOr(env.MEDIA_MASTER_KEYS_FILE, 'MEDIA_MASTER_KEYS_FILE') ??
      devSecret(dataDir, 'master-keys', generateMasterKeys),
  );
  const signedUrlKeys = parseKeyList(
    'SIGNED_URL_KEYS',
    env.SIGNED_URL_KEYS ??
      keyFileOr(env.SIGNED_URL_KEYS_FILE, 'SIGNED_URL_KEYS_FILE') ??
      devSecret(dataDir, 'signed-url-keys', generateSignedUrlKeys),
  );
  return {
    env: env.NODE_ENV,
    role: env.MEDIA_ROLE,
    logLevel: env.LOG_LEVEL,
    logFile: env.LOG_FILE,
    tracing: { endpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: env.OTEL_SERVICE_NAME },
    port: env.PORT,
    shutdownGraceMs: env.SHUTDOWN_GRACE_SECONDS * 1000,
    dataDir,
    databaseUrl: env.DATABASE_URL,
    redisUrl: env.REDIS_URL,
    corsAllowedOrigins: parseOrigins(env.CORS_ALLOWED_ORIGINS),
    tusUploadExpiryMs: env.TUS_UPLOAD_EXPIRY_SECONDS * 1000,
    storage: {
      driver: env.STORAGE_DRIVER,
      minFreeBytes: env.STORAGE_MIN_FREE_BYTES,
      timeoutMs: env.STORAGE_TIMEOUT_MS,
      s3: {
        endpoint: env.S3_ENDPOINT,
        region: env.S3_REGION,
        bucket: env.S3_BUCKET,
        accessKeyId: env.S3_ACCESS_KEY_ID,
        secretAccessKey: env.S3_SECRET_ACCESS_KEY,
        forcePathStyle: env.S3_FORCE_PATH_STYLE,
      },
      gcs: { bucket: env.GCS_BUCKET, projectId: env.GCS_PROJECT_ID, apiEndpoint: env.GCS_API_ENDPOINT },
    },
    auth: {
      jwtSecret,
      jwtPublicKey: env.AUTH_JWT_PUBLIC_KEY,
      jwksUrl: env.AUTH_JWKS_URL,
      issuer: env.AUTH_JWT_ISSUER,
      audience: env.AUTH_JWT_AUDIENCE,
    },
    masterKeys,
    signedUrlKeys,
    keyFiles,
    grpc: { host: env.GRPC_HOST, port: env.GRPC_PORT, apiToken: env.GRPC_API_TOKEN },
    peers: { authUrl: env.AUTH_GRPC_URL, userUrl: env.USER_GRPC_URL, moderationUrl: env.MODERATION_GRPC_URL },
    moderationFailureMode: env.MODERATION_FAILURE_MODE,
    phashMaxDistance: env.PHASH_MAX_DISTANCE,
    clamavUrl: env.CLAMAV_URL,
    processing: {
      image: { maxPixels: env.MAX_IMAGE_PIXELS, maxFrames: env.MAX_ANIMATION_FRAMES },
      budgetSeconds: env.PROCESSING_BUDGET_SECONDS,
      maxDurationSeconds: env.MAX_MEDIA_DURATION_SECONDS,
    },
    hashInWorker: env.HASH_IN_WORKER,
    jobs: {
      concurrency: env.JOB_CONCURRENCY,
      retryLimit: env.JOB_RETRY_LIMIT,
      expireSeconds: env.JOB_EXPIRE_SECONDS,
      pollSeconds: env.JOB_POLL_SECONDS,
      maintenanceSeconds: env.JOB_MAINTENANCE_SECONDS,
    },
    limits: {
      quotaBytes: env.QUOTA_STORAGE_BYTES,
      dailyUploads: env.QUOTA_DAILY_UPLOADS,
      requestsPerMinute: env.RATE_LIMIT_PER_MINUTE,
      uploadConcurrency: env.UPLOAD_CONCURRENCY_PER_USER,
      uploadBytesPerSecond: env.UPLOAD_BYTES_PER_SECOND,
      maxBytes: Object.fromEntries(MEDIA_TYPES.map((type) => [type, env[maxBytesVariable(type)]])) as Record<
        MediaType,
        number
      >,
    },
  };
}

export interface SigningConfig {
  secret: string;
  /** Where the secret came from, to tell the user. */
  source: string;
  issuer?: string;
  audience?: string;
}

/**
 * What `npm run token` signs with: AUTH_JWT_SECRET, or the development secret the service
 * generated under DATA_DIR. Never generates one: a token signed with a secret the service
 * does not use is refused by it (401) with no hint why.
 */
export function loadSigningConfig(source: Env = process.env): SigningConfig {
  const { value: env, error } = envSchema.validate(source, { abortEarly: false, convert: true });
  const problems = (error?.details ?? []).filter((d) =>
    ['AUTH_JWT_SECRET', 'DATA_DIR', 'AUTH_JWT_ISSUER', 'AUTH_JWT_AUDIENCE'].includes(String(d.path[0])),
  );
  if (problems.length)
    throw new ConfigError(`Invalid configuration:\n${problems.map((d) => `  - ${d.message}`).join('\n')}`);
  const claims = {
    issuer: env.AUTH_JWT_ISSUER as string | undefined,
    audience: env.AUTH_JWT_AUDIENCE as string | undefined,
  };
  if (env.AUTH_JWT_SECRET) return { secret: env.AUTH_JWT_SECRET, source: 'AUTH_JWT_SECRET', ...claims };
  const dataDir = resolve(env.DATA_DIR);
  const secret = existingDevSecret(dataDir, 'jwt-secret');
  if (!secret) {
    throw new ConfigError(
      `no secret to sign with: AUTH_JWT_SECRET is not set and DATA_DIR=${dataDir} holds no development secret (secrets/jwt-secret).\n` +
        "Set AUTH_JWT_SECRET to the service's, or DATA_DIR to the directory the service runs with (it creates the secret at its first start).",
    );
  }
  return { secret, source: `the development secret of DATA_DIR=${dataDir}`, ...claims };
}

/** The key list in `file` (a *_FILE variable), or undefined when no file is named. */
function keyFileOr(file: string | undefined, variable: string): string | undefined {
  if (!file) return undefined;
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new ConfigError(`${variable}: cannot read ${file} (${(error as Error).message})`);
  }
}

/** `keyId:base64(32 bytes)`, comma-separated, ids unique; the first is current. */
export function parseKeyList(variable: string, value: string): AppConfig['masterKeys'] {
  const keys = value.split(',').map((entry) => {
    const [id, b64] = entry.split(':');
    const key = Buffer.from(b64, 'base64');
    if (key.length !== 32) throw new ConfigError(`${variable}: key "${id}" is not 32 bytes`);
    return { id, key };
  });
  if (new Set(keys.map((k) => k.id)).size !== keys.length) throw new ConfigError(`${variable}: duplicate key id`);
  return keys;
}

/** 127.0.0.0/8, ::1 and localhost: reachable from this machine only. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** `https://a.example, http://localhost:5173` → exact origins (scheme, host, port), each validated. */
function parseOrigins(value: string): string[] {
  return value
    .split(',')
    .map((origin) => origin.trim())
    .filter(Boolean)
    .map((origin) => {
      let url: URL;
      try {
        url = new URL(origin);
      } catch {
        throw new ConfigError(
          `Invalid configuration:\n  - "CORS_ALLOWED_ORIGINS" ${origin} is not an origin (scheme://host[:port])`,
        );
      }
      if (url.origin !== origin.replace(/\/$/, ''))
        throw new ConfigError(
          `Invalid configuration:\n  - "CORS_ALLOWED_ORIGINS" ${origin} is not an origin (scheme://host[:port], no path)`,
        );
      return url.origin;
    });
}
