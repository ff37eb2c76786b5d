/**
 * AuthClient against a real gRPC stand-in (test/support/auth-server.ts): valid and invalid
 * tokens, the per-token cache and its bounds (cacheSeconds, expires_at, the JWT's own exp),
 * user lookups, and auth-service down or slow.
 */
import { status } from '@grpc/grpc-js';
import { isMediaError } from '../../src/errors';
import { AuthClient, type AuthClientOptions } from '../../src/peers/auth.client';
import { PeerCallError, PeerUnavailableError } from '../../src/peers/grpc-peer';
import { AuthServer } from '../support/auth-server';
import { waitFor } from '../support/wait';

let server: AuthServer;
const clients: AuthClient[] = [];

function client(options: Partial<AuthClientOptions> = {}): AuthClient {
  const created = new AuthClient({ url: server.url, deadlineMs: 1000, initialBackoffMs: 20, ...options });
  clients.push(created);
  return created;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);
const HOUR_FROM_NOW = nowSeconds() + 3600;

/** A JWT-shaped token (header.payload.signature) whose payload carries `exp`. */
function jwtWithExp(exp: number): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: 'user-1', exp })}.signature`;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (thrown: unknown) => thrown,
  );
}

beforeEach(async () => {
  server = await AuthServer.start();
  server.tokens.set('tok-1', { userId: 'user-1', roles: ['admin', 'moderator'], expiresAt: HOUR_FROM_NOW });
});

afterEach(async () => {
  for (const created of clients.splice(0)) created.close();
  await server.close();
});

describe('validateToken', () => {
  it("returns the token's user, roles and expiry, and sends the request id", async () => {
    await expect(client().validateToken('tok-1', { requestId: 'req-7' })).resolves.toEqual({
      userId: 'user-1',
      roles: ['admin', 'moderator'],
      expiresAt: HOUR_FROM_NOW,
    });
    expect(server.validations).toEqual([{ token: 'tok-1' }]);
    expect(server.requestIds).toEqual(['req-7']);
  });

  it("an invalid token is 401 UNAUTHORIZED, and auth-service's reason stays out of the message", async () => {
    const error = await rejection(client().validateToken('forged'));
    expect(isMediaError(error, 'UNAUTHORIZED')).toBe(true);
    expect(error).toMatchObject({ status: 401, message: 'The token is invalid or expired' });
    expect(((error as Error).cause as Error).message).toBe('unknown token');
  });

  it('an invalid token is asked again each time: only valid answers are cached', async () => {
    const auth = client();
    for (let i = 0; i < 2; i++) await rejection(auth.validateToken('forged'));
    expect(server.validations).toHaveLength(2);
  });

  it('INVALID_ARGUMENT or UNAUTHENTICATED from auth-service is the token refused too', async () => {
    const auth = client();
    for (const code of [status.INVALID_ARGUMENT, status.UNAUTHENTICATED]) {
      server.fail(code, 1);
      expect(isMediaError(await rejection(auth.validateToken('tok-1')), 'UNAUTHORIZED')).toBe(true);
    }
  });

  it('PERMISSION_DENIED (the mesh refusing us) is no answer, not a refused token', async () => {
    server.fail(status.PERMISSION_DENIED);
    const error = await rejection(client().validateToken('tok-1'));
    expect(error).toBeInstanceOf(PeerUnavailableError);
    expect((error as PeerUnavailableError).cause).toBeInstanceOf(PeerCallError);
  });

  it('refuses a valid token whose user id the service could not store safely', async () => {
    server.tokens.set('tok-odd', { userId: '../etc/passwd', expiresAt: HOUR_FROM_NOW });
    expect(isMediaError(await rejection(client().validateToken('tok-odd')), 'UNAUTHORIZED')).toBe(true);
  });

  it('refuses an empty token without asking', async () => {
    expect(isMediaError(await rejection(client().validateToken('')), 'UNAUTHORIZED')).toBe(true);
    expect(server.validations).toHaveLength(0);
  });
});

describe('cache', () => {
  it('a cache hit does not call auth-service again, even while it is down', async () => {
    const auth = client();
    const first = await auth.validateToken('tok-1');
    await server.stop();
    await expect(auth.validateToken('tok-1')).resolves.toEqual(first);
    expect(server.validations).toHaveLength(1);
  });

  it('asks again once cacheSeconds have passed', async () => {
    const auth = client({ cacheSeconds: 1 });
    await auth.validateToken('tok-1');
    const askedAt = Date.now();
    await waitFor(() => Date.now() > askedAt + 1000, 5000);
    await auth.validateToken('tok-1');
    expect(server.validations).toHaveLength(2);
  });

  it('never outlives expires_at, however long cacheSeconds is', async () => {
    const expiresAt = nowSeconds() + 2; // a whole second at least, for the two calls below
    server.tokens.set('tok-short', { userId: 'user-1', expiresAt });
    const auth = client({ cacheSeconds: 3600 });
    await auth.validateToken('tok-short');
    await auth.validateToken('tok-short');
    expect(server.validations).toHaveLength(1);
    await waitFor(() => Date.now() >= expiresAt * 1000, 5000);
    await auth.validateToken('tok-short');
    expect(server.validations).toHaveLength(2);
  });

  it("never outlives the JWT's own exp when auth-service gives no expires_at", async () => {
    const exp = nowSeconds() + 2;
    const token = jwtWithExp(exp);
    server.tokens.set(token, { userId: 'user-1', expiresAt: 0 });
    const auth = client({ cacheSeconds: 3600 });
    await expect(auth.validateToken(token)).resolves.toMatchObject({ expiresAt: exp });
    await auth.validateToken(token);
    expect(server.validations).toHaveLength(1);
    await waitFor(() => Date.now() >= exp * 1000, 5000);
    await auth.validateToken(token);
    expect(server.validations).toHaveLength(2);
  });

  it('keeps nothing with cacheSeconds 0', async () => {
    const auth = client({ cacheSeconds: 0 });
    await auth.validateToken('tok-1');
    await auth.validateToken('tok-1');
    expect(server.validations).toHaveLength(2);
  });

  it('is per token', async () => {
    server.tokens.set('tok-2', { userId: 'user-2', expiresAt: HOUR_FROM_NOW });
    const auth = client();
    await expect(auth.validateToken('tok-1')).resolves.toMatchObject({ userId: 'user-1' });
    await expect(auth.validateToken('tok-2')).resolves.toMatchObject({ userId: 'user-2' });
    await expect(auth.validateToken('tok-1')).resolves.toMatchObject({ userId: 'user-1' });
    expect(server.validations).toHaveLength(2);
  });
});

describe('auth-service unavailable', () => {
  it('down: PeerUnavailableError naming auth, a 503 with Retry-After', async () => {
    await server.stop();
    const error = await rejection(client().validateToken('tok-1'));
    expect(error).toBeInstanceOf(PeerUnavailableError);
    expect(error).toMatchObject({ peer: 'auth', status: 503, code: 'DEPENDENCY_UNAVAILABLE' });
    expect((error as PeerUnavailableError).retryAfter).toBeGreaterThan(0);
  });

  it('slow: each attempt times out, is retried, then PeerUnavailableError', async () => {
    server.delay(10_000); // each attempt's deadline long enough to reach the server on a loaded machine (arrivals are counted)
    const error = await rejection(client({ deadlineMs: 1000, retries: 1 }).validateToken('tok-1'));
    expect(error).toBeInstanceOf(PeerUnavailableError);
    expect(server.validations).toHaveLength(2);
  });

  it('flapping: the retries ride it out', async () => {
    server.flap();
    await expect(client({ cacheSeconds: 0 }).validateToken('tok-1')).resolves.toMatchObject({ userId: 'user-1' });
  });
});

describe('getUserInfo', () => {
  it('returns a known user, and exists: false for a user auth-service does not know', async () => {
    server.users.set('user-1', { active: false, roles: ['admin'] });
    const auth = client();
    await expect(auth.getUserInfo('user-1')).resolves.toEqual({
      userId: 'user-1',
      exists: true,
      active: false,
      roles: ['admin'],
    });
    await expect(auth.getUserInfo('nobody')).resolves.toEqual({
      userId: 'nobody',
      exists: false,
      active: false,
      roles: [],
    });
    expect(server.userLookups).toEqual([{ userId: 'user-1' }, { userId: 'nobody' }]);
  });

  it('any other refusal is no answer', async () => {
    server.fail(status.PERMISSION_DENIED);
    expect(await rejection(client().getUserInfo('user-1'))).toBeInstanceOf(PeerUnavailableError);
  });
});
