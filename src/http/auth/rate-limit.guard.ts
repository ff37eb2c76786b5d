import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { MediaError } from '../../errors.js';
import { LIMITER, type Limiter } from '../../limits/limiter.js';
import type { Caller } from '../../access/caller.js';

/** RATE_LIMIT_PER_MINUTE per authenticated user, on every authenticated route (the read lane's too). */
@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(@Inject(LIMITER) private readonly limiter: Limiter) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const user = context.switchToHttp().getRequest<{ user?: Caller }>().user;
    if (user) await this.count(user); // else a public route
    return true;
  }

  /** Counts one request of `user`'s; 429 with Retry-After past the limit. */
  async count(user: Caller): Promise<void> {
    const wait = await this.limiter.hit(user.id);
    if (wait > 0) throw new MediaError('RATE_LIMITED', undefined, { retryAfter: wait });
  }
}
