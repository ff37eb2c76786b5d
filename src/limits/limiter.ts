/**
 * The per-user limits that live outside the database: requests per minute, uploads in
 * flight and upload bandwidth. In-process (memory-limiter.ts) for one instance; in Redis
 * (redis-limiter.ts, REDIS_URL) shared by every replica. (Storage quota and the daily
 * count are kept in PostgreSQL by UsageRepository, so they are exact across instances and crashes.)
 */
export interface Limiter {
  /** Counts one request. Returns 0 when allowed, else the seconds until one would be. */
  hit(userId: string): Promise<number>;
  /** Takes an upload slot; returns its release function, or null when all are taken. */
  acquireUpload(userId: string): Promise<(() => void) | null>;
  /** Accounts `bytes` of upload; returns how many milliseconds to wait before passing them on. */
  throttle(userId: string, bytes: number): Promise<number>;
  /** Whether the store the limits are shared through (Redis) answers now; undefined: they are kept in this process. */
  readonly connected?: boolean;
  /** Lets go of what it holds (timers, its Redis connection). */
  close(): Promise<void>;
}

export const LIMITER = Symbol('LIMITER');

export interface LimiterSettings {
  requestsPerMinute: number;
  uploadConcurrency: number;
  uploadBytesPerSecond: number;
}
