/**
 * UserClient against a real gRPC stand-in (test/support/user-server.ts): quotas and their
 * cache, storage usage updates, and the stand-in's idempotency contract that our outbox
 * relies on (a redelivered delta_id is acknowledged, not counted twice).
 */
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { PeerCallError, PeerUnavailableError } from '../../src/peers/grpc-peer';
import { type StorageDelta, UserClient, type UserClientOptions } from '../../src/peers/user.client';
import { UserServer } from '../support/user-server';
import { waitFor } from '../support/wait';

let server: UserServer;
const clients: UserClient[] = [];

function client(options: Partial<UserClientOptions> = {}): UserClient {
  const created = new UserClient({ url: server.url, deadlineMs: 1000, initialBackoffMs: 20, ...options });
  clients.push(created);
  return created;
}

const delta = (deltaBytes: number, deltaFiles = 1, userId = 'user-1'): StorageDelta => ({
  userId,
  deltaId: randomUUID(),
  deltaBytes,
  deltaFiles,
});

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (thrown: unknown) => thrown,
  );
}

beforeEach(async () => {
  server = await UserServer.start();
  server.quotas.set('user-1', { storageBytes: 10 * 2 ** 30, dailyUploads: 0 });
});

afterEach(async () => {
  for (const created of clients.splice(0)) created.close();
  await server.close();
});

describe('getUserQuotas', () => {
  it('returns the limits, 0 read as "use our default", and sends the request id', async () => {
    await expect(client().getUserQuotas('user-1', { requestId: 'req-9' })).resolves.toEqual({
      storageBytes: 10 * 2 ** 30,
      dailyUploads: undefined,
    });
    await expect(client().getUserQuotas('user-2')).resolves.toEqual({
      storageBytes: undefined,
      dailyUploads: undefined,
    });
    expect(server.requestIds).toEqual(['req-9', '']);
  });

  it('is cached per user: a hit does not call user-service again, even while it is down', async () => {
    const users = client();
    await users.getUserQuotas('user-1');
    await users.getUserQuotas('user-2');
    await server.stop();
    await expect(users.getUserQuotas('user-1')).resolves.toMatchObject({ storageBytes: 10 * 2 ** 30 });
    await users.getUserQuotas('user-2');
    expect(server.quotaLookups).toEqual([{ userId: 'user-1' }, { userId: 'user-2' }]);
  });

  it('asks again once cacheSeconds have passed, and keeps nothing with 0', async () => {
    const hourly = client({ cacheSeconds: 1 });
    await hourly.getUserQuotas('user-1');
    const askedAt = Date.now();
    await waitFor(() => Date.now() > askedAt + 1000, 5000);
    await hourly.getUserQuotas('user-1');
    expect(server.quotaLookups).toHaveLength(2);

    const never = client({ cacheSeconds: 0 });
    await never.getUserQuotas('user-1');
    await never.getUserQuotas('user-1');
    expect(server.quotaLookups).toHaveLength(4);
  });

  it('is bounded: the least recently used user is asked again', async () => {
    const users = client({ cacheEntries: 2 });
    for (const userId of ['a', 'b', 'c', 'a']) await users.getUserQuotas(userId);
    expect(server.quotaLookups.map((lookup) => lookup.userId)).toEqual(['a', 'b', 'c', 'a']);
  });

  it('a user user-service does not know (NOT_FOUND) gets our defaults; other refusals are no answer', async () => {
    server.fail(status.NOT_FOUND, 1);
    await expect(client().getUserQuotas('ghost')).resolves.toEqual({});
    server.fail(status.PERMISSION_DENIED, 1);
    const error = await rejection(client().getUserQuotas('user-1'));
    expect(error).toBeInstanceOf(PeerUnavailableError);
    expect(error).toMatchObject({ peer: 'user' });
  });

  it('down: PeerUnavailableError naming user', async () => {
    await server.stop();
    const error = await rejection(client().getUserQuotas('user-1'));
    expect(error).toBeInstanceOf(PeerUnavailableError);
    expect(error).toMatchObject({ peer: 'user', status: 503 });
  });
});

describe('updateStorageUsage', () => {
  it('applies a delta and returns the new total', async () => {
    const users = client();
    await expect(users.updateStorageUsage(delta(1000))).resolves.toEqual({ applied: true, usedBytes: 1000 });
    await expect(users.updateStorageUsage(delta(-400, -1))).resolves.toEqual({ applied: true, usedBytes: 600 });
    expect(server.usage.get('user-1')).toEqual({ bytes: 600, files: 0 });
  });

  it('a redelivered delta_id is acknowledged and not counted twice', async () => {
    const users = client();
    const once = delta(5000);
    await expect(users.updateStorageUsage(once)).resolves.toEqual({ applied: true, usedBytes: 5000 });
    await expect(users.updateStorageUsage(once)).resolves.toEqual({ applied: false, usedBytes: 5000 });
    expect(server.deltas).toHaveLength(2);
    expect(server.usage.get('user-1')).toEqual({ bytes: 5000, files: 1 });
  });

  it('a lost answer: the retry of an applied delta is acknowledged, the total counts it once', async () => {
    server.delay(5000, 1); // the first attempt is applied, its answer comes after the deadline
    const answer = await client({ deadlineMs: 200 }).updateStorageUsage(delta(7000));
    expect(server.deltas).toHaveLength(2);
    expect(answer).toEqual({ applied: false, usedBytes: 7000 });
    expect(server.usage.get('user-1')).toEqual({ bytes: 7000, files: 1 });
  });

  it('flapping: every delta still lands exactly once', async () => {
    server.flap();
    const users = client();
    for (let i = 0; i < 4; i++) await users.updateStorageUsage(delta(100));
    expect(server.usage.get('user-1')).toEqual({ bytes: 400, files: 4 });
  });

  it("passes user-service's refusal through as PeerCallError, for the outbox to give up on", async () => {
    server.fail(status.INVALID_ARGUMENT, 1);
    const error = await rejection(client().updateStorageUsage(delta(1)));
    expect(error).toBeInstanceOf(PeerCallError);
    expect(error).toMatchObject({ peer: 'user', method: 'UpdateStorageUsage', code: status.INVALID_ARGUMENT });
  });

  it('down or slow: PeerUnavailableError, for the outbox to send again later', async () => {
    server.delay(5000);
    expect(await rejection(client({ deadlineMs: 150, retries: 1 }).updateStorageUsage(delta(1)))).toBeInstanceOf(
      PeerUnavailableError,
    );
    await server.stop();
    expect(await rejection(client().updateStorageUsage(delta(1)))).toBeInstanceOf(PeerUnavailableError);
  });

  it('refuses a delta the wire would truncate, before sending it', async () => {
    const users = client();
    await expect(users.updateStorageUsage(delta(1.5))).rejects.toThrow(RangeError);
    await expect(users.updateStorageUsage({ ...delta(1), deltaFiles: 2 ** 31 })).rejects.toThrow(RangeError);
    await expect(users.updateStorageUsage({ ...delta(1), deltaId: '' })).rejects.toThrow(RangeError);
    expect(server.deltas).toHaveLength(0);
  });
});
