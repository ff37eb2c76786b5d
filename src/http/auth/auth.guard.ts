import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { Authenticator } from './authenticator.js';
import { PUBLIC_KEY, SIGNED_URL_KEY } from './decorators.js';

/**
 * Every route needs `Authorization: Bearer <JWT>` unless marked @Public(); routes marked
 * @SignedUrlAccepted() (downloads, previews) also open with a signed URL (Authenticator).
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly authenticator: Authenticator,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const req = context.switchToHttp().getRequest<Request>();
    // Whether a signed URL is accepted matters only without an Authorization header.
    const accepted =
      req.headers.authorization === undefined &&
      this.reflector.getAllAndOverride<boolean>(SIGNED_URL_KEY, targets) === true;
    const caller = this.authenticator.admit(req, req.query.token, accepted);
    return caller instanceof Promise ? caller.then(() => true) : true;
  }
}
