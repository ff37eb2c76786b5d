/**
 * The auth-service client (proto/auth.proto; docs/architecture.md, "peers"), a thin file
 * over GrpcPeer. A valid token is remembered for a few seconds, never past its expiry: the
 * next requests of the same client do not ask again. An invalid token is 401; no answer is
 * PeerUnavailableError (503), never a pass.
 */
import { createHash } from 'node:crypto';
import { type ServiceClientConstructor, status } from '@grpc/grpc-js';
import { type BoundedCache, boundedCache } from '../common/cache.js';
import { MediaError } from '../errors.js';
import {
  type BreakerState,
  GrpcPeer,
  loadService,
  PeerCallError,
  type PeerCallOptions,
  type PeerClientOptions,
} from './grpc-peer.js';

export interface AuthClientOptions extends PeerClientOptions {
  /** How long a valid answer is reused, at most (the token's expiry comes first). Default 30; 0: never. */
  cacheSeconds?: number;
  /** Most tokens remembered (keys are SHA-256 digests; 4 MiB counted at most in all, src/common/cache.ts). Default 10,000. */
  cacheEntries?: number;
}

export interface ValidatedToken {
  userId: string;
  roles: string[];
  /** Unix seconds after which the token is no longer valid; undefined if neither auth-service nor the token says. */
  expiresAt?: number;
}

export interface UserInfo {
  userId: string;
  exists: boolean;
  active: boolean;
  roles: string[];
}

/** The ids the rest of the service accepts as a user (the same rule as a JWT's `sub`). */
const USER_ID = /^[A-Za-z0-9_.:@-]{1,128}$/;
/** Refusals that are about the token (malformed, not a credential); any other refusal is no answer. */
const TOKEN_REFUSED = new Set<number>([status.INVALID_ARGUMENT, status.UNAUTHENTICATED]);
const CACHE_BYTES = 4 * 1024 * 1024;

interface WireValidation {
  valid: boolean;
  userId: string;
  roles: string[];
  expiresAt: number;
  reason: string;
}
interface Remembered {
  token: ValidatedToken;
  /** Date.now() after which the answer is not reused. */
  until: number;
}
type Methods = {
  ValidateToken: [{ token: string }, WireValidation];
  GetUserInfo: [{ userId: string }, UserInfo];
};

/** The generated AuthService constructor (also used by the test stand-in server). */
export function loadAuthService(): ServiceClientConstructor {
  return loadService('auth', 'auth.AuthService');
}

export class AuthClient {
  private readonly peer: GrpcPeer<Methods>;
  private readonly cacheMs: number;
  private readonly valid: BoundedCache<string, Remembered>;

  constructor(options: AuthClientOptions) {
    const { cacheSeconds = 30, cacheEntries = 10_000, ...peer } = options;
    this.peer = new GrpcPeer<Methods>({ ...peer, name: 'auth', service: 'auth.AuthService' });
    this.cacheMs = cacheSeconds * 1000;
    this.valid = boundedCache({
      max: cacheEntries,
      maxBytes: CACHE_BYTES,
      ttlOf: (entry: Remembered) => entry.until - Date.now(),
    });
  }

  /** The token's owner and roles, or MediaError UNAUTHORIZED; PeerUnavailableError when auth-service cannot say. */
  async validateToken(token: string, options: PeerCallOptions = {}): Promise<ValidatedToken> {
    if (!token) throw invalidToken('empty token');
    const key = createHash('sha256').update(token).digest('base64url');
    const known = this.valid.get(key);
    if (known && known.until > Date.now()) return known.token;
    const answer = await this.peer.call('ValidateToken', { token }, options).catch((error: unknown) => {
      if (!(error instanceof PeerCallError)) throw error;
      throw TOKEN_REFUSED.has(error.code) ? invalidToken(error.details) : this.peer.unavailable(error);
    });
    if (!answer.valid) throw invalidToken(answer.reason);
    if (!USER_ID.test(answer.userId)) throw new MediaError('UNAUTHORIZED', 'The token subject is invalid');
    const expiresAt = earliest(answer.expiresAt || undefined, jwtExpiry(token));
    const validated = { userId: answer.userId, roles: answer.roles, expiresAt };
    this.valid.set(key, {
      token: validated,
      until: Math.min(Date.now() + this.cacheMs, (expiresAt ?? Infinity) * 1000),
    });
    return validated;
  }

  /** One user; a user auth-service does not know is `exists: false`. Not cached. */
  async getUserInfo(userId: string, options: PeerCallOptions = {}): Promise<UserInfo> {
    try {
      const { exists, active, roles } = await this.peer.call('GetUserInfo', { userId }, options);
      return { userId, exists, active, roles };
    } catch (error) {
      if (error instanceof PeerCallError && error.code === status.NOT_FOUND)
        return { userId, exists: false, active: false, roles: [] };
      throw error instanceof PeerCallError ? this.peer.unavailable(error) : error;
    }
  }

  get breakerState(): BreakerState {
    return this.peer.breakerState;
  }

  close(): void {
    this.peer.close();
  }
}

/** auth-service's reason goes to the logs (as the cause), not to the client. */
function invalidToken(reason: string): MediaError {
  return new MediaError('UNAUTHORIZED', 'The token is invalid or expired', {
    cause: new Error(reason || 'invalid token'),
  });
}

function earliest(a?: number, b?: number): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

/**
 * A JWT's own `exp` (unverified: auth-service vouched for the token, this only bounds how
 * long we reuse that), so an auth-service that leaves expires_at 0 cannot stretch the cache.
 */
function jwtExpiry(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const { exp } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof exp === 'number' && Number.isFinite(exp) ? exp : undefined;
  } catch {
    return undefined;
  }
}
