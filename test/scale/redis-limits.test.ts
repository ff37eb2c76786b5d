import { Redis } from 'ioredis';
import { RedisLimiter, SLOT_LEASE_MS } from '../../src/limits/redis-limiter';
import { RedisServer } from '../support/redis-server';
import { waitFor } from '../support/wait';

const settings = { requestsPerMinute: 10, uploadConcurrency: 3, uploadBytesPerSecond: 1024 * 1024 };

/** A Redis connection as the service opens one: fail fast, no offline queue. */
const connect = (url: string) =>
  new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 1000 }).on('error', () => {});
const connected = (redis: Redis) => waitFor(() => redis.status === 'ready', 10_000);

describe('the limits in Redis, shared by two replicas', () => {
  let server: RedisServer;
  const clients: Redis[] = [];
  const replica = async (prefix: string) => {
    const redis = connect(server.url);
    clients.push(redis);
    await connected(redis);
    return { redis, limiter: new RedisLimiter(redis, settings, prefix) };
  };
  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await server?.close();
  });

  it('uploads in flight: the per-user limit holds across replicas, and a release frees a slot for either', async () => {
    const [a, b] = [await replica('t1:'), await replica('t1:')];
    const slots = [
      await a.limiter.acquireUpload('u'),
      await b.limiter.acquireUpload('u'),
      await a.limiter.acquireUpload('u'),
    ];
    expect(slots.every((release) => typeof release === 'function')).toBe(true);
    expect(await b.limiter.acquireUpload('u')).toBeNull();
    expect(await a.limiter.acquireUpload('u')).toBeNull();
    expect(await b.limiter.acquireUpload('other')).not.toBeNull(); // per user
    slots[0]!();
    await waitFor(async () => (await a.redis.zcard('t1:uploads:u')) === 2);
    const again = await b.limiter.acquireUpload('u');
    expect(again).not.toBeNull();
    again!();
    slots[1]!();
    slots[2]!();
  });

  it('a replica that dies holding slots gives them back within the lease; a live one keeps its slot past the lease', async () => {
    const [dying, survivor] = [await replica('t2:'), await replica('t2:')];
    const held = await survivor.limiter.acquireUpload('u');
    expect(held).not.toBeNull();
    expect(await dying.limiter.acquireUpload('u')).not.toBeNull();
    expect(await dying.limiter.acquireUpload('u')).not.toBeNull();
    expect(await survivor.limiter.acquireUpload('u')).toBeNull();
    dying.redis.disconnect(); // killed: no release, no renewal
    const regained: (() => void)[] = [];
    await waitFor(async () => {
      const slot = await survivor.limiter.acquireUpload('u');
      if (slot) regained.push(slot);
      return regained.length === 2;
    }, SLOT_LEASE_MS * 3);
    // Both of the dead replica's slots came back; the survivor's own first slot outlived a lease (renewed): all 3 are taken.
    expect(await survivor.limiter.acquireUpload('u')).toBeNull();
    expect(await survivor.redis.zcard('t2:uploads:u')).toBe(3);
    [held!, ...regained].forEach((release) => release());
  });

  it('requests per minute and upload bandwidth are counted across replicas', async () => {
    const [a, b] = [await replica('t3:'), await replica('t3:')];
    for (let i = 0; i < 6; i++) expect(await a.limiter.hit('u')).toBe(0);
    for (let i = 0; i < 4; i++) expect(await b.limiter.hit('u')).toBe(0);
    const wait = await a.limiter.hit('u');
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(60);
    expect(await b.limiter.hit('someone-else')).toBe(0);
    // One second's budget (1 MiB) spent half on each replica: the next bytes wait for the window.
    expect(await a.limiter.throttle('v', 512 * 1024)).toBe(0);
    expect(await b.limiter.throttle('v', 512 * 1024)).toBe(0);
    const over = await Promise.all([a.limiter.throttle('v', 300 * 1024), b.limiter.throttle('v', 300 * 1024)]);
    expect(Math.max(...over)).toBeGreaterThan(0);
  });

  it("Redis down: every limit falls back to the replica's own, promptly, and Redis back is used again", async () => {
    const { redis, limiter } = await replica('t4:');
    await server.stop();
    await waitFor(() => redis.status !== 'ready', 10_000);
    expect(await limiter.hit('u')).toBe(0);
    const slots = [
      await limiter.acquireUpload('u'),
      await limiter.acquireUpload('u'),
      await limiter.acquireUpload('u'),
    ];
    expect(slots.every(Boolean)).toBe(true);
    expect(await limiter.acquireUpload('u')).toBeNull(); // the local limit still holds
    expect(await limiter.throttle('u', 1024)).toBe(0);
    slots.forEach((release) => release!());
    await server.start();
    await connected(redis);
    const release = await limiter.acquireUpload('u');
    expect(await redis.zcard('t4:uploads:u')).toBe(1);
    release!();
  });
});
