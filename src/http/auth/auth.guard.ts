import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { MediaError } from '../../errors.js';
import { noteUser } from '../../observability/observation.js';
import type { Caller } from '../../access/caller.js';
import { SignedUrls } from '../../access/signed-url.js';
import { AuthPeer } from '../../peers/auth-peer.js';
import { PUBLIC_KEY, SIGNED_URL_KEY } from './decorators.js';
import { JwtVerifier } from './jwt-verifier.js';

/**
 * Every route needs `Authorization: Bearer <JWT>` unless marked @Public() (verified here,
 * then by auth-service when AUTH_GRPC_URL is set); downloads and
 * previews (@SignedUrlAccepted()) also open with a signed URL's `token` query parameter when
 * no Authorization header is sent. A signed URL's caller is its minting user, limited to
 * the media and variant it was minted for (AccessPolicy.checkSignedScope).
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly verifier: JwtVerifier;

  constructor(
    private readonly reflector: Reflector,
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly signedUrls: SignedUrls,
    private readonly auth: AuthPeer,
  ) {
    this.verifier = new JwtVerifier(config.auth);
  }

  /** Synchronous for a token verified before (the common case: a client's next requests), when no auth-service checks it. */
  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, [context.getHandler(), context.getClass()])) return true;
    const req = context.switchToHttp().getRequest<Request & { user?: Caller }>();
    const signed = req.query.token;
    if (req.headers.authorization === undefined && signed !== undefined) {
      if (!this.reflector.getAllAndOverride<boolean>(SIGNED_URL_KEY, [context.getHandler(), context.getClass()])) {
        throw new MediaError(
          'UNAUTHORIZED',
          'A signed URL opens only a download or a preview; other routes need a bearer token',
        );
      }
      if (typeof signed !== 'string')
        throw new MediaError('UNAUTHORIZED', 'Invalid signed URL: token is given more than once');
      const grant = this.signedUrls.verify(signed);
      return admit(req, {
        id: grant.userId,
        roles: grant.roles,
        signedFor: { mediaId: grant.mediaId, variant: grant.variant },
      });
    }
    const [scheme, token] = (req.headers.authorization ?? '').split(' ');
    if (scheme?.toLowerCase() !== 'bearer' || !token) throw new MediaError('UNAUTHORIZED', 'Missing bearer token');
    const known = this.auth.client ? undefined : this.verifier.known(token);
    return known ? admit(req, known) : this.verifyBearer(req, token);
  }

  private async verifyBearer(req: Request & { user?: Caller }, token: string): Promise<boolean> {
    const caller = await this.verifier.verify(token);
    // With AUTH_GRPC_URL, auth-service has the last word (a revoked session, a banned user):
    // its answer is cached briefly, never past the token's expiry; down, it is 503, never an accept.
    if (this.auth.client) {
      const validated = await this.auth.client.validateToken(token, {
        requestId: typeof req.id === 'string' ? req.id : undefined,
      });
      if (validated.userId !== caller.id)
        throw new MediaError('UNAUTHORIZED', 'The token was not issued for its subject');
    }
    return admit(req, caller);
  }
}

/** The request goes on as `caller`'s (its log line and span name the user). */
function admit(req: { user?: Caller }, caller: Caller): true {
  req.user = caller;
  noteUser(caller.id);
  return true;
}
