import type { Limiter, LimiterSettings } from './limiter.js';
import { TokenBucket } from './token-bucket.js';

const SWEEP_EVERY_MS = 60_000;

/** Limiter state in this process's memory: right for a single instance (REDIS_URL unset). */
export class MemoryLimiter implements Limiter {
  private readonly requests = new Map<string, TokenBucket>();
  private readonly bandwidth = new Map<string, TokenBucket>();
  private readonly uploads = new Map<string, number>();
  private readonly sweeper: NodeJS.Timeout;
  /** `now`: the clock the buckets refill by (tests pass their own). */
  constructor(
    private readonly settings: LimiterSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.sweeper = setInterval(() => this.forgetIdle(), SWEEP_EVERY_MS).unref();
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }

  async hit(userId: string): Promise<number> {
    const perMinute = this.settings.requestsPerMinute;
    const bucket = bucketFor(this.requests, userId, () => new TokenBucket(perMinute, perMinute / 60, this.now));
    return Math.ceil(bucket.tryTake(1) / 1000);
  }

  async acquireUpload(userId: string): Promise<(() => void) | null> {
    const inFlight = this.uploads.get(userId) ?? 0;
    if (inFlight >= this.settings.uploadConcurrency) return null;
    this.uploads.set(userId, inFlight + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.uploads.get(userId) ?? 1) - 1;
      if (left > 0) this.uploads.set(userId, left);
      else this.uploads.delete(userId);
    };
  }

  async throttle(userId: string, bytes: number): Promise<number> {
    const rate = this.settings.uploadBytesPerSecond;
    // One second of burst: short uploads are not slowed at all.
    return bucketFor(this.bandwidth, userId, () => new TokenBucket(rate, rate, this.now)).take(bytes);
  }

  private forgetIdle(): void {
    for (const map of [this.requests, this.bandwidth]) {
      for (const [user, bucket] of map) if (bucket.isFull()) map.delete(user);
    }
  }
}

function bucketFor(map: Map<string, TokenBucket>, userId: string, create: () => TokenBucket): TokenBucket {
  let bucket = map.get(userId);
  if (!bucket) {
    bucket = create();
    map.set(userId, bucket);
  }
  return bucket;
}
