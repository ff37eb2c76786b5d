import type { AppConfig } from '../config/app-config.js';
import type { Limiter } from './limiter.js';
import { MemoryLimiter } from './memory-limiter.js';

/**
 * The limits in Redis when REDIS_URL is set (shared by replicas), else in this process. The
 * Redis client and its limiter are loaded only then: a single instance does not carry them.
 */
export async function createLimiter(config: AppConfig): Promise<Limiter> {
  if (!config.redisUrl) return new MemoryLimiter(config.limits);
  const { connectRedisLimiter } = await import('./redis-limiter.js');
  return connectRedisLimiter(config.redisUrl, config.limits);
}
