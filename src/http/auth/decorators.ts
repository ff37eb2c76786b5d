import { createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';
import type { Caller } from '../../media/media.service.js';

export const PUBLIC_KEY = 'media:public';
export const ROLES_KEY = 'media:roles';

/** The route needs no token (health, metrics, docs). */
export const Public = () => SetMetadata(PUBLIC_KEY, true);

/** The route needs one of these roles. */
export const Roles = (...roles: string[]) => SetMetadata(ROLES_KEY, roles);

/** The authenticated caller, set by AuthGuard. */
export const CurrentUser = createParamDecorator((_data: unknown, context: ExecutionContext): Caller => {
  return context.switchToHttp().getRequest<{ user: Caller }>().user;
});
