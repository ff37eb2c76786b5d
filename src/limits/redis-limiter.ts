import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Limiter, LimiterSettings } from './limiter.js';
import { MemoryLimiter } from './memory-limiter.js';

/** An upload slot lives this long unless renewed: a crashed replica's slots free themselves within it. */
export const SLOT_LEASE_MS = 15_000;
/** Upload bandwidth is taken from Redis in grants of at least this many bytes (one round trip per grant, not per chunk). */
const BANDWIDTH_GRANT = 256 * 1024;
/** Unused grants are forgotten this often: they belong to a window long gone, and the map stays small. */
const FORGET_CREDIT_MS = 10_000;

/**
 * Takes a slot in the user's sorted set of slots (score: lease end, in Redis' own clock so
 * replicas' clocks do not matter), after dropping expired ones; 1 if taken, 0 if all are.
 */
const ACQUIRE = `
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[1]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1`;
/** Extends a slot's lease if it still holds it; 1 if renewed. */
const RENEW = `
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
if not redis.call('ZSCORE', KEYS[1], ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[1]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1`;

type SlotCommands = Redis & {
  mediaAcquireSlot(key: string, leaseMs: number, limit: number, slot: string): Promise<number>;
  mediaRenewSlot(key: string, leaseMs: number, slot: string): Promise<number>;
};

/** The limits in the Redis at `url` (REDIS_URL). */
export function connectRedisLimiter(url: string, settings: LimiterSettings): RedisLimiter {
  // Fail fast: a command to a Redis that is down rejects at once (the limiter then uses this
  // replica's own limits) instead of queueing behind the reconnection.
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: 1000,
  });
  redis.on('error', () => {}); // reconnects by itself; its state is in readiness
  return new RedisLimiter(redis, settings);
}

/**
 * The limits in Redis (REDIS_URL), shared by every replica: requests per minute and upload
 * bandwidth with `rate-limiter-flexible` (a fixed one-minute window, and one-second windows
 * of bytes), uploads in flight as leased slots (a sorted set per user; a slot is renewed
 * while its upload runs, so a replica killed mid-upload gives its slots back within
 * SLOT_LEASE_MS).
 *
 * Redis down: every limit falls back to this replica's own (the in-process limiter), so the
 * limits hold per replica instead of across them — they guard fairness and capacity, not
 * correctness (quota and daily counts are exact in PostgreSQL), and refusing uploads or
 * downloads because the limiter's store is down would turn a Redis outage into a service
 * outage. Commands fail fast (no offline queue) so a request never waits on a dead Redis.
 */
export class RedisLimiter implements Limiter {
  private readonly requests: RateLimiterRedis;
  private readonly bandwidth: RateLimiterRedis;
  private readonly local: MemoryLimiter;
  /** Bytes granted by Redis and not yet used, per user on this replica. */
  private readonly credit = new Map<string, number>();
  private readonly redis: SlotCommands;
  private readonly forgetting: NodeJS.Timeout;

  constructor(
    redis: Redis,
    private readonly settings: LimiterSettings,
    private readonly prefix = 'media:',
  ) {
    this.redis = redis as SlotCommands;
    this.redis.defineCommand('mediaAcquireSlot', { numberOfKeys: 1, lua: ACQUIRE });
    this.redis.defineCommand('mediaRenewSlot', { numberOfKeys: 1, lua: RENEW });
    this.local = new MemoryLimiter(settings);
    this.forgetting = setInterval(() => this.credit.clear(), FORGET_CREDIT_MS).unref();
    this.requests = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `${prefix}rate`,
      points: settings.requestsPerMinute,
      duration: 60,
      insuranceLimiter: new RateLimiterMemory({ points: settings.requestsPerMinute, duration: 60 }),
    });
    this.bandwidth = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `${prefix}bytes`,
      points: settings.uploadBytesPerSecond,
      duration: 1,
      insuranceLimiter: new RateLimiterMemory({ points: settings.uploadBytesPerSecond, duration: 1 }),
    });
  }

  /** Whether Redis answers now (readiness reports it; the limits fall back to this replica's own while it does not). */
  get connected(): boolean {
    return this.redis.status === 'ready';
  }

  async close(): Promise<void> {
    clearInterval(this.forgetting);
    await this.local.close();
    this.redis.disconnect();
  }

  async hit(userId: string): Promise<number> {
    try {
      await this.requests.consume(userId, 1);
      return 0;
    } catch (outcome) {
      if (outcome instanceof RateLimiterRes) return Math.max(1, Math.ceil(outcome.msBeforeNext / 1000));
      throw outcome;
    }
  }

  async acquireUpload(userId: string): Promise<(() => void) | null> {
    const key = `${this.prefix}uploads:${userId}`;
    const slot = randomUUID();
    let taken: number;
    try {
      taken = await this.redis.mediaAcquireSlot(key, SLOT_LEASE_MS, this.settings.uploadConcurrency, slot);
    } catch {
      return this.local.acquireUpload(userId); // Redis down: this replica's own slots
    }
    if (!taken) return null;
    const renewal = setInterval(
      () => void this.redis.mediaRenewSlot(key, SLOT_LEASE_MS, slot).catch(() => {}),
      SLOT_LEASE_MS / 3,
    ).unref();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      clearInterval(renewal);
      void this.redis.zrem(key, slot).catch(() => {}); // unreachable: the lease frees it
    };
  }

  async throttle(userId: string, bytes: number): Promise<number> {
    const credit = this.credit.get(userId) ?? 0;
    if (credit >= bytes) {
      this.credit.set(userId, credit - bytes);
      return 0;
    }
    const grant = Math.max(bytes - credit, Math.min(BANDWIDTH_GRANT, this.settings.uploadBytesPerSecond));
    this.credit.delete(userId);
    try {
      await this.bandwidth.consume(userId, grant);
      this.credit.set(userId, grant - (bytes - credit));
      return 0;
    } catch (outcome) {
      // Over this second's budget: the bytes are counted (the window's debt) and pass once it ends.
      if (outcome instanceof RateLimiterRes) return outcome.msBeforeNext;
      throw outcome;
    }
  }
}
