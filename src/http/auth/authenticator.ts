import { Inject, Injectable } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { MediaError } from '../../errors.js';
import { noteUser } from '../../observability/observation.js';
import type { Caller } from '../../access/caller.js';
import { SignedUrls } from '../../access/signed-url.js';
import { AuthPeer } from '../../peers/auth-peer.js';
import { JwtVerifier } from './jwt-verifier.js';

/** A request as authentication sees it: its headers, its id, and the caller it is admitted as. */
export type AuthenticatedRequest = IncomingMessage & { user?: Caller; id?: unknown };

/**
 * Who a request is: `Authorization: Bearer <JWT>` (verified here, then by auth-service when
 * AUTH_GRPC_URL is set), or on a route that accepts one (downloads, previews) a signed URL's
 * `token` query parameter when no Authorization header is sent. A signed URL's caller is its
 * minting user, limited to the media and variant it was minted for
 * (AccessPolicy.checkSignedScope). Nest's routes reach it through AuthGuard; the read lane
 * calls it directly.
 */
@Injectable()
export class Authenticator {
  private readonly verifier: JwtVerifier;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly signedUrls: SignedUrls,
    private readonly auth: AuthPeer,
  ) {
    this.verifier = new JwtVerifier(config.auth);
  }

  /**
   * Admits the request as its caller (`req.user`; its log line and span name the user), or
   * throws 401. Synchronous for a token verified before (the common case: a client's next
   * requests), when no auth-service checks it.
   */
  admit(req: AuthenticatedRequest, signed: unknown, signedUrlAccepted: boolean): Caller | Promise<Caller> {
    if (req.headers.authorization === undefined && signed !== undefined) {
      if (!signedUrlAccepted) {
        throw new MediaError(
          'UNAUTHORIZED',
          'A signed URL opens only a download or a preview; other routes need a bearer token',
        );
      }
      if (typeof signed !== 'string')
        throw new MediaError('UNAUTHORIZED', 'Invalid signed URL: token is given more than once');
      const grant = this.signedUrls.verify(signed);
      return admitted(req, {
        id: grant.userId,
        roles: grant.roles,
        signedFor: { mediaId: grant.mediaId, variant: grant.variant },
      });
    }
    const [scheme, token] = (req.headers.authorization ?? '').split(' ');
    if (scheme?.toLowerCase() !== 'bearer' || !token) throw new MediaError('UNAUTHORIZED', 'Missing bearer token');
    const known = this.auth.client ? undefined : this.verifier.known(token);
    return known ? admitted(req, known) : this.verifyBearer(req, token);
  }

  private async verifyBearer(req: AuthenticatedRequest, token: string): Promise<Caller> {
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
    return admitted(req, caller);
  }
}

function admitted(req: AuthenticatedRequest, caller: Caller): Caller {
  req.user = caller;
  noteUser(caller.id);
  return caller;
}
