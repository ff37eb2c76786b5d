/**
 * GrpcPeer, the generic half of every peer client, against a real gRPC stand-in
 * (test/support/auth-server.ts): deadline and retries, definite answers passed through,
 * the circuit breaker (also with the peer really going down and coming back), cancellation,
 * x-request-id metadata and the proto lookup.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import {
  findProto,
  GrpcPeer,
  type GrpcPeerOptions,
  loadService,
  PeerCallError,
  PeerUnavailableError,
} from '../../src/peers/grpc-peer';
import { AuthServer } from '../support/auth-server';
import { waitFor } from '../support/wait';

type Methods = {
  ValidateToken: [
    { token: string },
    { valid: boolean; userId: string; roles: string[]; expiresAt: number; reason: string },
  ];
  GetUserInfo: [{ userId: string }, { userId: string; exists: boolean; active: boolean; roles: string[] }];
};

let server: AuthServer;
const peers: GrpcPeer<Methods>[] = [];

function peer(options: Partial<GrpcPeerOptions> = {}): GrpcPeer<Methods> {
  const created = new GrpcPeer<Methods>({
    name: 'auth',
    service: 'auth.AuthService',
    url: server.url,
    deadlineMs: 1000,
    initialBackoffMs: 20,
    ...options,
  });
  peers.push(created);
  return created;
}

const validate = (auth: GrpcPeer<Methods>, options = {}) => auth.call('ValidateToken', { token: 'tok-1' }, options);

async function rejection<E>(promise: Promise<unknown>, type: new (...args: never[]) => E): Promise<E> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(type);
  return error as E;
}
const unavailable = (promise: Promise<unknown>) => rejection(promise, PeerUnavailableError);

beforeEach(async () => {
  server = await AuthServer.start();
  server.tokens.set('tok-1', { userId: 'user-1', roles: ['admin'], expiresAt: 2_000_000_000 });
});

afterEach(async () => {
  for (const created of peers.splice(0)) created.close();
  await server.close();
});

describe('answers', () => {
  it('decodes the response with camelCase fields and 64-bit integers as numbers', async () => {
    await expect(validate(peer())).resolves.toEqual({
      valid: true,
      userId: 'user-1',
      roles: ['admin'],
      expiresAt: 2_000_000_000,
      reason: '',
    });
    expect(server.validations).toEqual([{ token: 'tok-1' }]);
  });

  it('sends the request id as x-request-id metadata, and none when not given', async () => {
    const auth = peer();
    await validate(auth, { requestId: 'req-42' });
    await validate(auth);
    expect(server.requestIds).toEqual(['req-42', '']);
  });

  it('drops a request id grpc-js would refuse instead of failing the call', async () => {
    await expect(validate(peer(), { requestId: 'bad\nid' })).resolves.toMatchObject({ valid: true });
    expect(server.requestIds).toEqual(['']);
  });

  it('passes a definite refusal through as PeerCallError with its code, not retried', async () => {
    const error = await rejection(peer().call('GetUserInfo', { userId: 'nobody' }), PeerCallError);
    expect(error).toMatchObject({
      peer: 'auth',
      method: 'GetUserInfo',
      code: status.NOT_FOUND,
      details: 'no user nobody',
    });
    expect(server.userLookups).toHaveLength(1);
  });

  it('turns the response with `read`, and a throw there is no answer', async () => {
    const auth = peer();
    await expect(auth.call('ValidateToken', { token: 'tok-1' }, { read: (response) => response.userId })).resolves.toBe(
      'user-1',
    );
    const read = () => {
      throw new Error('unusable answer');
    };
    const error = await unavailable(auth.call('ValidateToken', { token: 'tok-1' }, { read }));
    expect((error.cause as Error).message).toBe('unusable answer');
    expect(server.validations).toHaveLength(2);
  });
});

describe('failures', () => {
  it('retries an attempt past its deadline, then throws PeerUnavailableError naming the peer', async () => {
    // A deadline long enough for each attempt to reach the server on a loaded machine (the arrivals are counted).
    server.delay(10_000);
    const error = await unavailable(validate(peer({ deadlineMs: 1000, retries: 2 })));
    expect(server.validations).toHaveLength(3);
    expect(error).toMatchObject({ peer: 'auth', code: 'DEPENDENCY_UNAVAILABLE', status: 503 });
    expect(error.retryAfter).toBeGreaterThan(0);
    expect(error.retryAfterSeconds).toBe(error.retryAfter);
    expect((error.cause as { code?: number }).code).toBe(status.DEADLINE_EXCEEDED);
  });

  it('is unavailable when nothing listens', async () => {
    await server.stop();
    await unavailable(validate(peer()));
  });

  it('rides out a flapping peer with its retries', async () => {
    server.flap();
    const auth = peer();
    for (let i = 0; i < 3; i++) await expect(validate(auth)).resolves.toMatchObject({ valid: true });
    expect(server.validations).toHaveLength(6);
  });

  it('does not retry a status that is neither transient nor an answer, and reports it as unavailable', async () => {
    server.fail(status.UNIMPLEMENTED);
    await unavailable(validate(peer()));
    expect(server.validations).toHaveLength(1);
  });
});

describe('circuit breaker', () => {
  it('opens after N failed calls, fails fast with Retry-After, and closes after a good trial', async () => {
    server.fail(status.UNAVAILABLE);
    const auth = peer({ retries: 1, breakerThreshold: 2, halfOpenAfterMs: 300 });
    await unavailable(validate(auth));
    expect(auth.breakerState).toBe('closed');
    await unavailable(validate(auth));
    expect(auth.breakerState).toBe('open');
    expect(server.validations).toHaveLength(4);

    const fastFail = await unavailable(validate(auth));
    expect(server.validations).toHaveLength(4);
    expect(fastFail.retryAfterSeconds).toBe(1);

    server.up();
    await waitFor(() => auth.breakerState === 'half-open', 5000);
    await expect(validate(auth)).resolves.toMatchObject({ valid: true });
    expect(auth.breakerState).toBe('closed');
  });

  it('does not count definite refusals: an unknown id cannot cut everyone off', async () => {
    const auth = peer({ breakerThreshold: 2 });
    for (let i = 0; i < 4; i++) await rejection(auth.call('GetUserInfo', { userId: 'nobody' }), PeerCallError);
    expect(auth.breakerState).toBe('closed');
  });

  it('a definite refusal in the half-open trial closes the breaker: the peer answered', async () => {
    server.fail(status.UNAVAILABLE);
    const auth = peer({ retries: 0, breakerThreshold: 1, halfOpenAfterMs: 200 });
    await unavailable(validate(auth));
    expect(auth.breakerState).toBe('open');
    server.up();
    await waitFor(() => auth.breakerState === 'half-open', 5000);
    await rejection(auth.call('GetUserInfo', { userId: 'nobody' }), PeerCallError);
    expect(auth.breakerState).toBe('closed');
  });

  it('recovers when a peer that went down comes back on the same port', async () => {
    const auth = peer({ breakerThreshold: 2, halfOpenAfterMs: 300 });
    await validate(auth);
    await server.stop();
    await unavailable(validate(auth));
    await unavailable(validate(auth));
    expect(auth.breakerState).toBe('open');

    await server.start();
    await waitFor(() => auth.breakerState === 'half-open', 5000);
    await expect(validate(auth)).resolves.toMatchObject({ valid: true });
    expect(auth.breakerState).toBe('closed');
  });
});

describe('cancellation', () => {
  it('an AbortSignal cancels the call in flight, and the caller gets its reason', async () => {
    server.delay(10_000);
    const controller = new AbortController();
    const call = validate(peer({ deadlineMs: 20_000 }), { signal: controller.signal });
    await waitFor(() => server.validations.length === 1, 5000);
    controller.abort();
    await expect(call).rejects.toMatchObject({ name: 'AbortError' });
    await waitFor(() => server.cancelled === 1, 5000);
  });

  // The test's own timeout is the bound: without the abort, the call would sleep out a minute of backoff.
  it('an abort during the backoff ends the call at once, and no retry is sent', async () => {
    server.fail(status.UNAVAILABLE);
    const controller = new AbortController();
    const auth = peer({ retries: 5, initialBackoffMs: 60_000, maxBackoffMs: 60_000 });
    const call = validate(auth, { signal: controller.signal });
    await waitFor(() => server.validations.length === 1, 5000);
    controller.abort();
    await expect(call).rejects.toMatchObject({ name: 'AbortError' });
    expect(server.validations).toHaveLength(1);
  }, 20_000);

  it('an aborted signal never reaches the peer', async () => {
    await expect(validate(peer(), { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    expect(server.validations).toHaveLength(0);
  });
});

describe('proto lookup', () => {
  it('finds proto/<name>.proto from src/peers', () => {
    expect(findProto('auth')).toBe(join(__dirname, '..', '..', 'proto', 'auth.proto'));
    expect(findProto('user')).toBe(join(__dirname, '..', '..', 'proto', 'user.proto'));
  });

  it('finds it from a compiled dist/src/peers, which has no proto/ of its own', () => {
    const root = mkdtempSync(join(tmpdir(), 'peer-proto-'));
    try {
      mkdirSync(join(root, 'proto'));
      writeFileSync(join(root, 'proto', 'auth.proto'), 'syntax = "proto3";');
      mkdirSync(join(root, 'dist', 'src', 'peers'), { recursive: true });
      expect(findProto('auth', join(root, 'dist', 'src', 'peers'))).toBe(join(root, 'proto', 'auth.proto'));
      expect(() => findProto('nothing', join(root, 'dist', 'src', 'peers'))).toThrow('proto/nothing.proto not found');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('refuses a service the proto does not declare', () => {
    expect(() => loadService('auth', 'auth.NoSuchService')).toThrow(
      'no service auth.NoSuchService in proto/auth.proto',
    );
  });
});
