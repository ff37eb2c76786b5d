import { Redis } from 'ioredis';
import type { AppConfig } from '../config/app-config.js';
import type { Limiter } from './limiter.js';
import { MemoryLimiter } from './memory-limiter.js';
import { RedisLimiter } from './redis-limiter.js';

/** The limits in Redis when REDIS_URL is set (shared by replicas), else in this process. */
export function createLimiter(config: AppConfig): Limiter {
  if (!config.redisUrl) return new MemoryLimiter(config.limits);
  // Fail fast: a command to a Redis that is down rejects at once (the limiter then uses this
  // replica's own limits) instead of queueing behind the reconnection.
  const redis = new Redis(config.redisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: 1000,
  });
  redis.on('error', () => {}); // reconnects by itself; its state is in readiness
  return new RedisLimiter(redis, config.limits);
}
