import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { MediaError } from '../../errors.js';
import type { Caller } from '../../media/media.service.js';
import { ROLES_KEY } from './decorators.js';

/** Enforces @Roles(): the caller needs at least one of them. */
@Injectable()
export class RolesGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const roles = this.reflector.getAllAndOverride<string[]>(ROLES_KEY, [context.getHandler(), context.getClass()]);
    if (!roles?.length) return true;
    const user = context.switchToHttp().getRequest<{ user?: Caller }>().user;
    if (!user?.roles.some((role) => roles.includes(role))) throw new MediaError('FORBIDDEN');
    return true;
  }
}
