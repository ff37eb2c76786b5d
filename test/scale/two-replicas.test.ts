import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startTestApp, type TestApp } from '../support/app';
import { request, stalledUpload, upload } from '../support/http';
import { MediaGrpcClient } from '../support/media-grpc';
import { picture } from '../support/pictures';
import { RedisServer } from '../support/redis-server';
import { waitFor } from '../support/wait';

describe('two API replicas on one PostgreSQL, one Redis and one store', () => {
  let redis: RedisServer;
  let a: TestApp;
  let b: TestApp;
  let probe: Redis;
  const dataDir = mkdtempSync(join(tmpdir(), 'media-test-replicas-'));
  beforeAll(async () => {
    redis = await RedisServer.start();
    const env = { REDIS_URL: redis.url, UPLOAD_CONCURRENCY_PER_USER: '2' };
    a = await startTestApp({ dataDir, grpc: true, env });
    b = await startTestApp({ dataDir, databaseUrl: a.databaseUrl, env });
    probe = new Redis(redis.url);
  });
  afterAll(async () => {
    probe?.disconnect();
    await b?.close();
    await a?.close();
    await redis?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('uploads in flight by one user, split between replicas, never exceed UPLOAD_CONCURRENCY_PER_USER', async () => {
    const token = await a.token('alice');
    const [one, two] = [await picture(70), await picture(71)];
    const first = stalledUpload(a.url, token, { name: 's.png', bytes: one, type: 'image/png' });
    const second = stalledUpload(b.url, token, { name: 's.png', bytes: two, type: 'image/png' });
    await waitFor(async () => (await probe.zcard('media:uploads:alice')) === 2);
    for (const app of [a, b]) {
      const refused = await upload(app.url, token, { name: 'third.png', bytes: await picture(72) });
      expect([refused.status, refused.json.code]).toEqual([429, 'TOO_MANY_CONCURRENT_UPLOADS']);
    }
    expect((await Promise.all([first.finish(), second.finish()])).map((reply) => reply.status)).toEqual([201, 201]);
    await waitFor(async () => (await probe.zcard('media:uploads:alice')) === 0);
    expect((await upload(b.url, token, { name: 'third.png', bytes: await picture(72) })).status).toBe(201);
  });

  it('a media uploaded through one replica downloads through the other; a revoke and a delete on one are seen at once on the other', async () => {
    const alice = await a.token('alice');
    const bob = await a.token('bob');
    const sent = await upload(a.url, alice, { name: 'shared.png', bytes: await picture(73) });
    const id = sent.json.id;
    const back = await request(`${b.url}/api/v1/media/${id}`, { token: alice });
    expect(back.status).toBe(200);
    const grpc = new MediaGrpcClient(a.grpcAddress!);
    try {
      await grpc.ok('GrantAccess', {
        acting_user_id: 'alice',
        media_ids: [id],
        conversation_id: 'c',
        user_ids: ['bob'],
      });
      expect((await request(`${b.url}/api/v1/media/${id}/metadata`, { token: bob })).status).toBe(200);
      await grpc.ok('RevokeAccess', { conversation_id: 'c', user_ids: ['bob'], media_ids: [] });
      // a has seen its own revoke; b drops its cached grant when the trigger's NOTIFY reaches it (milliseconds).
      expect((await request(`${a.url}/api/v1/media/${id}/metadata`, { token: bob })).status).toBe(404);
      await waitFor(
        async () => (await request(`${b.url}/api/v1/media/${id}/metadata`, { token: bob })).status === 404,
        5000,
      );
    } finally {
      grpc.close();
    }
    expect((await request(`${b.url}/api/v1/media/${id}/metadata`, { token: alice })).status).toBe(200); // cached on b now
    expect((await request(`${a.url}/api/v1/media/${id}`, { method: 'DELETE', token: alice })).status).toBe(204);
    await waitFor(
      async () => (await request(`${b.url}/api/v1/media/${id}/metadata`, { token: alice })).status === 404,
      5000,
    );
  });

  it('Redis down mid-run: downloads and uploads go on (limits per replica), and the shared limits come back with it', async () => {
    const token = await a.token('carol');
    const sent = await upload(a.url, token, { name: 'c.png', bytes: await picture(74) });
    expect((await request(`${b.url}/health/ready`)).json.info.redis).toEqual({ status: 'up', connection: 'ok' });
    await redis.stop();
    await waitFor(async () => (await request(`${b.url}/health/ready`)).json.info.redis.connection !== 'ok');
    const ready = await request(`${b.url}/health/ready`);
    expect([ready.status, ready.json.info.redis]).toEqual([
      200,
      { status: 'up', connection: 'lost (limits per replica)' },
    ]);
    expect((await request(`${b.url}/api/v1/media/${sent.json.id}`, { token })).status).toBe(200);
    expect((await upload(b.url, token, { name: 'd.png', bytes: await picture(75) })).status).toBe(201);
    await redis.start();
    await waitFor(async () => {
      const reply = await upload(a.url, token, {
        name: `e${Math.random()}.png`,
        bytes: await picture(76 + Math.floor(Math.random() * 1000)),
      });
      return reply.status === 201 && (await probe.ping().catch(() => '')) === 'PONG';
    }, 30_000);
  });
});
