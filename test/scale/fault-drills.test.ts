import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { signToken } from '../support/app';
import { query } from '../support/database';
import { Deployment, type Replica } from '../support/deployment';
import { type Reply, request, stalledUpload, upload } from '../support/http';
import { picture } from '../support/pictures';
import { textFile } from '../support/random';
import { waitFor } from '../support/wait';
import { ffmpeg, lavfi } from '../support/ffmpeg';

const KB = 1024;
const MB = 1024 * KB;

/** 503 DEPENDENCY_UNAVAILABLE with a Retry-After: the contract's answer to a dependency down. */
function expect503(reply: Reply): void {
  expect({ status: reply.status, code: reply.json?.code }).toEqual({ status: 503, code: 'DEPENDENCY_UNAVAILABLE' });
  expect(Number(reply.headers.get('retry-after'))).toBeGreaterThan(0);
}

/** Files of the replica's own temp dirs (DATA_DIR/tmp/<tag>/...). */
const tempFiles = (replica: Replica) =>
  readdirSync(join(replica.dataDir, 'tmp'), { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile());

/**
 * Two API replicas sharing one DATA_DIR and a worker, on one PostgreSQL, one Redis and one
 * bucket, as built processes; each test is one fault, and each ends with nothing lost or left
 * behind (Deployment.expectNothingLostOrLeft).
 */
describe('fault drills: two API replicas and a worker on one PostgreSQL, one Redis, one bucket', () => {
  let d: Deployment;
  let a: Replica;
  let b: Replica;
  let worker: Replica;
  let seed = 1;
  const note = () => ({ name: `note-${seed}.txt`, bytes: textFile(seed++, 24 * KB), type: 'text/plain' });
  const apiEnv = { UPLOAD_CONCURRENCY_PER_USER: '1', PROCESSING_BUDGET_SECONDS: '0', STORAGE_TIMEOUT_MS: '1500' };

  beforeAll(async () => {
    d = await Deployment.start();
    const shared = d.newDir('shared');
    a = await d.replica('api', apiEnv, shared);
    b = await d.replica('api', apiEnv, shared);
    worker = await d.replica('worker');
  }, 180_000);
  afterAll(() => d?.stop(), 60_000);

  it('every role answers /health/live and /health/ready on PORT, the worker too', async () => {
    for (const replica of [a, b, worker]) {
      expect((await request(`${replica.base}/health/live`)).status).toBe(200);
      const ready = await request(`${replica.base}/health/ready`);
      expect([ready.status, ready.json.details.database.status, ready.json.details.redis.status]).toEqual([
        200,
        'up',
        'up',
      ]);
    }
  });

  it('jobs run exactly once, also with a second worker started by mistake', async () => {
    const second = await d.replica('worker');
    const clip = join(second.dataDir, 'clip.avi');
    const ids: string[] = [];
    for (const [i, replica] of [a, b, a, b].entries()) {
      ffmpeg(...lavfi(`testsrc2=size=320x240:rate=25:duration=${2 + i}`), '-c:v', 'mpeg4', '-q:v', '5', clip);
      const accepted = await upload(replica.base, await signToken(`film-${i}`), {
        name: 'clip.avi',
        bytes: readFileSync(clip),
      });
      expect(accepted.status).toBe(202);
      ids.push(accepted.json.id);
    }
    const statuses = async () =>
      (
        await query<{ status: string }>(d.databaseUrl, 'SELECT status FROM media WHERE id = ANY($1::uuid[])', [ids])
      ).map((row) => row.status);
    await waitFor(async () => (await statuses()).every((status) => status === 'ready'), 300_000);
    await waitFor(
      async () =>
        (
          await query(
            d.databaseUrl,
            "SELECT id FROM pgboss.job WHERE name = 'finish-processing' AND state <> 'completed'",
          )
        ).length === 0,
      60_000,
    );
    const jobs = await query<{ media: string; state: string; retry_count: number }>(
      d.databaseUrl,
      "SELECT data->>'mediaId' AS media, state, retry_count FROM pgboss.job WHERE name = 'finish-processing' ORDER BY 1",
    );
    // One job per media, taken once (a second fetch of the same job would count a retry) and completed.
    expect(jobs).toEqual([...ids].sort().map((media) => ({ media, state: 'completed', retry_count: 0 })));
    for (const [i, id] of ids.entries()) {
      const reply = await request(`${[b, a][i % 2].base}/api/v1/media/${id}`, { token: await signToken(`film-${i}`) });
      expect([reply.status, reply.headers.get('content-type')]).toEqual([200, 'video/mp4']);
    }
    await d.kill(second, 'SIGTERM');
    await d.expectNothingLostOrLeft();
  }, 400_000);

  it('PostgreSQL killed mid-upload: 503 at once, the replicas reconnect when it is back, without a restart', async () => {
    const token = await signToken('pg-drill');
    const kept = await upload(b.base, token, note());
    expect(kept.status).toBe(201);
    const inFlight = stalledUpload(a.base, token, note());
    await waitFor(
      async () =>
        (await query(d.databaseUrl, "SELECT id FROM quota_reservations WHERE owner_id = 'pg-drill'")).length === 1,
    );

    await d.killDatabase();
    expect503(await inFlight.finish());
    expect503(await upload(b.base, token, note()));
    expect503(await request(`${b.base}/api/v1/media/${kept.json.id}`, { token }));
    expect((await request(`${a.base}/health/ready`)).status).toBe(503);
    expect((await request(`${a.base}/health/live`)).status).toBe(200);

    await d.restartDatabase();
    for (const replica of [a, b, worker])
      await waitFor(async () => (await request(`${replica.base}/health/ready`)).status === 200, 60_000);
    expect((await upload(a.base, token, note())).status).toBe(201);
    expect((await request(`${a.base}/api/v1/media/${kept.json.id}`, { token })).status).toBe(200);
    await d.expectNothingLostOrLeft();
  }, 240_000);

  it('the bucket hung (SIGSTOP): 503 with Retry-After after the store time-out, never a 201 without durable blobs; then served again', async () => {
    const token = await signToken('slow-store');
    const kept = await upload(a.base, token, note());
    expect(kept.status).toBe(201);
    d.s3.pause();
    try {
      expect503(await upload(b.base, token, note()));
      expect503(await request(`${a.base}/api/v1/media/${kept.json.id}`, { token }));
    } finally {
      d.s3.resume();
    }
    await waitFor(async () => (await request(`${b.base}/health/ready`)).status === 200, 60_000);
    const after = await upload(b.base, token, note());
    expect(after.status).toBe(201);
    expect((await request(`${a.base}/api/v1/media/${after.json.id}`, { token })).status).toBe(200);
    await d.expectNothingLostOrLeft();
  }, 240_000);

  it('Redis down mid-run: uploads and downloads go on on both replicas; the shared limits come back with it', async () => {
    const token = await signToken('redis-drill');
    const kept = await upload(a.base, token, note());
    await d.redis.stop();
    await waitFor(async () => (await request(`${b.base}/health/ready`)).json.info.redis.connection !== 'ok');
    for (const replica of [a, b]) {
      expect((await upload(replica.base, token, note())).status).toBe(201);
      expect((await request(`${replica.base}/api/v1/media/${kept.json.id}`, { token })).status).toBe(200);
    }
    await d.redis.start();
    for (const replica of [a, b])
      await waitFor(
        async () => (await request(`${replica.base}/health/ready`)).json.info.redis.connection === 'ok',
        30_000,
      );
    // The shared concurrency limit holds again: one upload in flight on a, a second on b is refused.
    const probe = new Redis(d.redis.url);
    try {
      const inFlight = stalledUpload(a.base, token, note());
      await waitFor(async () => (await probe.zcard('media:uploads:redis-drill')) === 1, 30_000);
      expect((await upload(b.base, token, note())).status).toBe(429);
      expect((await inFlight.finish()).status).toBe(201);
    } finally {
      probe.disconnect();
    }
    await d.expectNothingLostOrLeft();
  }, 120_000);

  it('the temp directory’s disk full: 503 with Retry-After (not 500), nothing left, and uploads that fit still succeed', async () => {
    const mountPoint = d.newDir('full');
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${4 * MB}`, 'tmpfs', mountPoint]);
    try {
      const small = await d.replica('api', apiEnv, mountPoint);
      const token = await signToken('full-disk');
      expect503(
        await upload(small.base, token, { name: 'big.txt', bytes: textFile(7001, 6 * MB), type: 'text/plain' }),
      );
      expect(tempFiles(small)).toEqual([]);
      expect((await upload(small.base, token, note())).status).toBe(201);
      await d.expectNothingLostOrLeft();
      await d.kill(small, 'SIGTERM');
      d.replicas.splice(d.replicas.indexOf(small), 1);
    } finally {
      execFileSync('umount', [mountPoint]);
    }
  }, 120_000);

  it('a replica starting on the same DATA_DIR sweeps nothing of a live replica’s upload in flight', async () => {
    const token = await signToken('sweep-drill');
    const inFlight = stalledUpload(a.base, token, note());
    await waitFor(() => tempFiles(a).length > 0);
    const third = await d.replica('api', apiEnv, a.dataDir); // its start-up sweep runs on the shared tmp/
    expect((await inFlight.finish()).status).toBe(201);
    await d.kill(third, 'SIGTERM');
    await d.expectNothingLostOrLeft();
  }, 120_000);

  it('a replica killed with SIGKILL mid-upload: the other keeps serving, the dead one’s upload slot expires, and its leftovers are swept', async () => {
    const token = await signToken('kill-drill');
    const reader = await signToken('kill-reader');
    const shown = await upload(b.base, reader, { name: 'shown.png', bytes: await picture(91), type: 'image/png' });
    expect(shown.status).toBe(201);
    const inFlight = stalledUpload(a.base, token, note());
    await waitFor(() => tempFiles(a).length > 0);
    expect((await upload(b.base, token, note())).status).toBe(429); // the slot is a's, in Redis

    let reading = true;
    const reads: number[] = [];
    const readLoop = (async () => {
      while (reading) reads.push((await request(`${b.base}/api/v1/media/${shown.json.id}`, { token: reader })).status);
    })();
    await d.kill(a);
    expect((await inFlight.finish()).status).toBe(0); // the connection died with the process
    // The lease of the dead replica's slot runs out within seconds: b takes the user's uploads again.
    await waitFor(async () => (await upload(b.base, token, note())).status === 201, 60_000);
    reading = false;
    await readLoop;
    expect(reads.length).toBeGreaterThan(0);
    expect(new Set(reads)).toEqual(new Set([200]));

    // a comes back (as its orchestrator restarts it) on the same DATA_DIR: its start-up sweep removes the dead one's temp dir and reservation.
    a = await d.replica('api', apiEnv, a.dataDir);
    await waitFor(async () => (await query(d.databaseUrl, 'SELECT id FROM quota_reservations')).length === 0, 30_000);
    await d.expectNothingLostOrLeft();
  }, 180_000);
});
