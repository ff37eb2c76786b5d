import { createRemoteJWKSet, importSPKI, type JWTPayload, jwtVerify, type JWTVerifyGetKey, type CryptoKey } from 'jose';
import type { AppConfig } from '../../config/app-config.js';
import { MediaError } from '../../errors.js';
import { type Caller, USER_ID } from '../../access/caller.js';
import { boundedCache } from '../../common/cache.js';

const ASYMMETRIC = ['RS256', 'ES256'];
/**
 * The longest a token may still have to live. A token that claims more (`exp: 1e308`) is
 * refused: a leaked one would otherwise never stop working. Access tokens live minutes.
 */
export const MAX_TOKEN_LIFETIME_SECONDS = 7 * 24 * 3600;

/**
 * Verifies bearer tokens locally as docs/api.md ("Authentication") says: HS256 secret, PEM public key, or JWKS.
 * A token verified once is remembered until its `exp` (the same string cannot carry other
 * claims), so a client's next requests skip the signature check.
 */
export class JwtVerifier {
  private readonly verified = boundedCache<string, { caller: Caller; expiresAt: number }>({
    max: 10_000,
    maxBytes: 8 * 1024 * 1024,
    ttlOf: (v) => v.expiresAt - Date.now(),
  });
  private readonly secret?: Uint8Array;
  private readonly publicKeys = new Map<string, Promise<CryptoKey>>();
  private readonly jwks?: JWTVerifyGetKey;

  constructor(private readonly auth: AppConfig['auth']) {
    if (auth.jwtSecret) this.secret = new TextEncoder().encode(auth.jwtSecret);
    if (auth.jwksUrl)
      this.jwks = createRemoteJWKSet(new URL(auth.jwksUrl), { timeoutDuration: 3000, cooldownDuration: 30_000 });
  }

  /** The caller of a token verified before and not expired since; undefined otherwise (verify it). */
  known(token: string): Caller | undefined {
    const known = this.verified.get(token);
    return known && known.expiresAt > Date.now() ? known.caller : undefined;
  }

  async verify(token: string): Promise<Caller> {
    const known = this.known(token);
    if (known) return known;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keyFor, {
        algorithms: this.algorithms(),
        issuer: this.auth.issuer,
        audience: this.auth.audience,
        requiredClaims: ['sub', 'exp'],
      }));
    } catch {
      throw new MediaError('UNAUTHORIZED', 'The token is invalid or expired');
    }
    if (payload.exp! > Date.now() / 1000 + MAX_TOKEN_LIFETIME_SECONDS)
      throw new MediaError('UNAUTHORIZED', 'The token lives longer than the 7 days accepted');
    if (typeof payload.sub !== 'string' || !USER_ID.test(payload.sub))
      throw new MediaError('UNAUTHORIZED', 'The token subject is invalid');
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : [];
    const caller = { id: payload.sub, roles };
    this.verified.set(token, { caller, expiresAt: payload.exp! * 1000 });
    return caller;
  }

  private algorithms(): string[] {
    return [...(this.secret ? ['HS256'] : []), ...(this.auth.jwtPublicKey || this.jwks ? ASYMMETRIC : [])];
  }

  private readonly keyFor: JWTVerifyGetKey = async (header, token) => {
    if (header.alg === 'HS256' && this.secret) return this.secret;
    if (this.auth.jwtPublicKey) {
      const alg = header.alg as string;
      if (!this.publicKeys.has(alg)) this.publicKeys.set(alg, importSPKI(this.auth.jwtPublicKey, alg));
      return this.publicKeys.get(alg)!;
    }
    if (this.jwks) return this.jwks(header, token);
    throw new Error('no key for this algorithm');
  };
}
