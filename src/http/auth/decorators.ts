import { createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';
import type { Caller } from '../../access/caller.js';

export const PUBLIC_KEY = 'media:public';

/** The route needs no token (health, metrics, docs). */
export const Public = () => SetMetadata(PUBLIC_KEY, true);

export const SIGNED_URL_KEY = 'media:signed-url';

/** The route also opens with a signed URL's `token` query parameter instead of a bearer token (downloads and previews). */
export const SignedUrlAccepted = () => SetMetadata(SIGNED_URL_KEY, true);

/** The authenticated caller, set by AuthGuard. */
export const CurrentUser = createParamDecorator((_data: unknown, context: ExecutionContext): Caller => {
  return context.switchToHttp().getRequest<{ user: Caller }>().user;
});
