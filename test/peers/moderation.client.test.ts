/**
 * ModerationClient against a real gRPC stand-in (test/support/moderation-server.ts):
 * decisions, the request on the wire, deadline, retries, the circuit breaker (also with
 * the peer really going down and coming back), cancellation and the proto lookup.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import {
  type CheckMediaContentRequest,
  ModerationClient,
  type ModerationClientOptions,
  ModerationUnavailableError,
  resolveProtoPath,
} from '../../src/peers/moderation.client';
import { ModerationServer } from '../support/moderation-server';
import { waitFor } from '../support/wait';

const request: CheckMediaContentRequest = {
  mediaId: '',
  ownerId: 'user-1',
  mediaType: 'image',
  mimeType: 'image/png',
  originalSize: 123_456,
  storedSize: 98_765,
  sha256: 'a'.repeat(64),
  md5: 'b'.repeat(32),
  storedSha256: 'c'.repeat(64),
  storedMd5: 'd'.repeat(32),
  phashes: ['0123456789abcdef'],
  requestId: 'req-1',
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let server: ModerationServer;
const clients: ModerationClient[] = [];

function client(options: Partial<ModerationClientOptions> = {}): ModerationClient {
  const created = new ModerationClient({ url: server.url, deadlineMs: 1000, initialBackoffMs: 20, ...options });
  clients.push(created);
  return created;
}

async function unavailable(promise: Promise<unknown>): Promise<ModerationUnavailableError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(ModerationUnavailableError);
  return error as ModerationUnavailableError;
}

beforeEach(async () => {
  server = await ModerationServer.start();
});

afterEach(async () => {
  for (const created of clients.splice(0)) created.close();
  await server.close();
});

describe('decisions', () => {
  it('returns approved', async () => {
    await expect(client().checkMediaContent(request)).resolves.toEqual({ decision: 'approved', reason: '', block: [] });
  });

  it('returns rejected with its reason and the hashes to block, without opening the breaker', async () => {
    server.reject('known abuse', [
      { algorithm: 'sha256', hash: 'E'.repeat(64) },
      { algorithm: 'crc32', hash: '00' },
    ]);
    const moderation = client({ breakerThreshold: 2 });
    for (let i = 0; i < 3; i++) {
      await expect(moderation.checkMediaContent(request)).resolves.toEqual({
        decision: 'rejected',
        reason: 'known abuse',
        block: [{ algorithm: 'sha256', hash: 'e'.repeat(64) }],
      });
    }
    expect(moderation.breakerState).toBe('closed');
  });

  it('sends every field as given', async () => {
    await client().checkMediaContent(request);
    expect(server.checks).toEqual([request]);
  });

  it('treats DECISION_UNSPECIFIED as no decision', async () => {
    server.decide('DECISION_UNSPECIFIED');
    await unavailable(client().checkMediaContent(request));
  });

  it('looks up a hash in moderation-service', async () => {
    server.hashes.set(`sha256:${'f'.repeat(64)}`, { blocked: true, reason: 'csam list' });
    const moderation = client();
    await expect(moderation.getContentHash({ algorithm: 'sha256', hash: 'f'.repeat(64) })).resolves.toEqual({
      known: true,
      blocked: true,
      reason: 'csam list',
    });
    await expect(moderation.getContentHash({ algorithm: 'md5', hash: '0'.repeat(32) })).resolves.toEqual({
      known: false,
      blocked: false,
      reason: '',
    });
    expect(server.lookups).toEqual([
      { algorithm: 'sha256', hash: 'f'.repeat(64) },
      { algorithm: 'md5', hash: '0'.repeat(32) },
    ]);
  });
});

describe('failures', () => {
  it('gives up after deadline × attempts when the peer is slow', async () => {
    server.delay(10_000); // each attempt's deadline long enough to reach the server on a loaded machine (arrivals are counted)
    const error = await unavailable(client({ deadlineMs: 1000, retries: 2 }).checkMediaContent(request));
    expect(server.checks).toHaveLength(3);
    expect(error.retryAfterSeconds).toBeGreaterThan(0);
    expect(error.status).toBe(503);
  });

  it('is unavailable when nothing listens', async () => {
    await server.stop();
    await unavailable(client().checkMediaContent(request));
  });

  it('retries UNAVAILABLE and then succeeds', async () => {
    server.fail(status.UNAVAILABLE, 1);
    await expect(client().checkMediaContent(request)).resolves.toMatchObject({ decision: 'approved' });
    expect(server.checks).toHaveLength(2);
  });

  it('does not retry a permanent error, and reports it as unavailable', async () => {
    server.fail(status.INVALID_ARGUMENT);
    await unavailable(client().checkMediaContent(request));
    expect(server.checks).toHaveLength(1);
  });
});

describe('circuit breaker', () => {
  it('opens after N failures, lets one trial through after halfOpenAfter, re-opens on failure, closes on success', async () => {
    server.fail(status.UNAVAILABLE);
    const moderation = client({ retries: 0, breakerThreshold: 3, halfOpenAfterMs: 300 });
    for (let i = 0; i < 3; i++) await unavailable(moderation.checkMediaContent(request));
    expect(moderation.breakerState).toBe('open');

    const fastFail = await unavailable(moderation.checkMediaContent(request));
    expect(server.checks).toHaveLength(3);
    expect(fastFail.retryAfterSeconds).toBeGreaterThan(0);

    await sleep(350);
    expect(moderation.breakerState).toBe('half-open');
    await unavailable(moderation.checkMediaContent(request)); // the trial reaches the peer and fails
    expect(server.checks).toHaveLength(4);
    expect(moderation.breakerState).toBe('open');
    await unavailable(moderation.checkMediaContent(request));
    expect(server.checks).toHaveLength(4);

    await sleep(350);
    server.approve();
    await expect(moderation.checkMediaContent(request)).resolves.toMatchObject({ decision: 'approved' });
    expect(server.checks).toHaveLength(5);
    expect(moderation.breakerState).toBe('closed');
  });

  it('counts a whole retried call as one failure', async () => {
    server.fail(status.UNAVAILABLE);
    const moderation = client({ retries: 2, breakerThreshold: 2, halfOpenAfterMs: 60_000 });
    await unavailable(moderation.checkMediaContent(request));
    expect(server.checks).toHaveLength(3);
    expect(moderation.breakerState).toBe('closed');
    await unavailable(moderation.checkMediaContent(request));
    expect(moderation.breakerState).toBe('open');
    const error = await unavailable(moderation.checkMediaContent(request));
    expect(server.checks).toHaveLength(6);
    expect(error.retryAfterSeconds).toBeGreaterThan(50);
  });

  it('recovers when a peer that went down comes back on the same port', async () => {
    const moderation = client({ breakerThreshold: 2, halfOpenAfterMs: 300 });
    await moderation.checkMediaContent(request);
    await server.stop();
    await unavailable(moderation.checkMediaContent(request));
    await unavailable(moderation.checkMediaContent(request));
    expect(moderation.breakerState).toBe('open');

    await server.start();
    await waitFor(() => moderation.breakerState === 'half-open', 2000);
    await expect(moderation.checkMediaContent(request)).resolves.toMatchObject({ decision: 'approved' });
    expect(moderation.breakerState).toBe('closed');
  });
});

describe('cancellation', () => {
  it('an AbortSignal cancels the call in flight', async () => {
    server.delay(10_000);
    const controller = new AbortController();
    const call = client({ deadlineMs: 20_000 }).checkMediaContent(request, { signal: controller.signal });
    await waitFor(() => server.checks.length === 1, 5000);
    controller.abort();
    await expect(call).rejects.toMatchObject({ name: 'AbortError' });
    await waitFor(() => server.cancelled === 1, 2000);
  });

  it('an aborted signal never reaches the peer', async () => {
    await expect(client().checkMediaContent(request, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(server.checks).toHaveLength(0);
  });
});

describe('proto lookup', () => {
  it('finds proto/moderation.proto from src/peers', () => {
    expect(resolveProtoPath()).toBe(join(__dirname, '..', '..', 'proto', 'moderation.proto'));
  });

  it('finds it from a compiled dist/src/peers, which has no proto/ of its own', () => {
    const root = mkdtempSync(join(tmpdir(), 'moderation-proto-'));
    try {
      mkdirSync(join(root, 'proto'));
      writeFileSync(join(root, 'proto', 'moderation.proto'), 'syntax = "proto3";');
      mkdirSync(join(root, 'dist', 'src', 'peers'), { recursive: true });
      expect(resolveProtoPath(join(root, 'dist', 'src', 'peers'))).toBe(join(root, 'proto', 'moderation.proto'));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
