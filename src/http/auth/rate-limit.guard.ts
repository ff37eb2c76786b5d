import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { MediaError } from '../../errors.js';
import { LIMITER, type Limiter } from '../../limits/limiter.js';
import type { Caller } from '../../access/caller.js';

/** RATE_LIMIT_PER_MINUTE per authenticated user, on every authenticated route. */
@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(@Inject(LIMITER) private readonly limiter: Limiter) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const user = context.switchToHttp().getRequest<{ user?: Caller }>().user;
    if (!user) return true; // public route
    const wait = await this.limiter.hit(user.id);
    if (wait > 0) throw new MediaError('RATE_LIMITED', undefined, { retryAfter: wait });
    return true;
  }
}
