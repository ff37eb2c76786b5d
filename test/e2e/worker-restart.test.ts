import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/common/free-port';
import { KEY_A, signToken, TEST_JWT_SECRET } from '../support/app';
import { createTestDatabase, query } from '../support/database';
import { request, upload } from '../support/http';
import { ready, type Running, runService, serviceEnv } from '../support/service-process';
import { waitFor } from '../support/wait';
import { ffmpeg, lavfi } from '../support/ffmpeg';

/** API and worker as separate built processes on one database: the worker dies mid-job and a new one finishes it. */
describe('background jobs across a worker crash', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'media-test-jobs-'));
  const running: Running[] = [];
  afterAll(() => {
    for (const service of running) service.child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** An API and workers as built processes on one new database, and a clip whose transcode takes a while. */
  async function deployment() {
    const databaseUrl = await createTestDatabase();
    const own = mkdtempSync(join(dataDir, 'deployment-'));
    const common = {
      DATA_DIR: own,
      DATABASE_URL: databaseUrl,
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      MEDIA_MASTER_KEYS: KEY_A,
      JOB_MAINTENANCE_SECONDS: '1',
      JOB_POLL_SECONDS: '0.5',
      RATE_LIMIT_PER_MINUTE: '10000',
      PROCESSING_BUDGET_SECONDS: '0',
    };
    const start = async (role: string) => {
      const port = await freePort();
      const service = runService(serviceEnv({ ...common, MEDIA_ROLE: role, PORT: String(port) }));
      running.push(service);
      const base = `http://127.0.0.1:${port}`;
      await ready(service, base);
      return { service, base };
    };
    const clip = join(own, 'clip.avi');
    ffmpeg(...lavfi('testsrc2=size=1280x720:rate=30:duration=6'), '-c:v', 'mpeg4', '-q:v', '5', clip);
    const jobState = async () =>
      (await query<{ state: string }>(databaseUrl, "SELECT state FROM pgboss.job WHERE name = 'finish-processing'"))[0]
        ?.state;
    const status = async (id: string) =>
      (await query<{ status: string }>(databaseUrl, 'SELECT status FROM media WHERE id = $1', [id]))[0].status;
    return { databaseUrl, start, clip, jobState, status };
  }

  // The job's expiry stays at its default (30 min): the new worker hands the dead one's job back at start-up.
  it('transcodes a video whose first worker was killed with SIGKILL, while the API keeps answering', async () => {
    const { start, clip, jobState, status } = await deployment();
    const api = await start('api');
    const worker = await start('worker');

    const token = await signToken('filmmaker');
    const accepted = await upload(api.base, token, { name: 'clip.avi', bytes: readFileSync(clip) });
    expect(accepted.status).toBe(202);

    await waitFor(async () => (await jobState()) === 'active', 120_000);
    worker.service.child.kill('SIGKILL');
    await worker.service.exited;
    expect((await request(`${api.base}/api/v1/media/${accepted.json.id}/metadata`, { token })).json.status).toBe(
      'processing',
    );
    expect((await request(`${api.base}/health/ready`)).status).toBe(200);

    await start('worker'); // a new worker: the killed one's job is handed back to it
    await waitFor(async () => (await status(accepted.json.id)) !== 'processing', 300_000);
    const media = (await request(`${api.base}/api/v1/media/${accepted.json.id}/metadata`, { token })).json;
    expect(media).toMatchObject({ status: 'ready', mimeType: 'video/mp4', originalMimeType: 'video/x-msvideo' });
    const stored = (await request(`${api.base}/api/v1/media/${media.id}`, { token })).body;
    expect(stored.length).toBe(media.size);
    expect(stored.subarray(4, 8).toString()).toBe('ftyp');
    await waitFor(async () => (await jobState()) === 'completed', 60_000);
  }, 600_000);

  it('hands the job back when its worker is stopped with SIGTERM mid-job; a new worker finishes it', async () => {
    const { databaseUrl, start, clip, jobState, status } = await deployment();
    const api = await start('api');
    const worker = await start('worker');
    const token = await signToken('filmmaker-2');
    const accepted = await upload(api.base, token, { name: 'clip.avi', bytes: readFileSync(clip) });
    expect(accepted.status).toBe(202);
    await waitFor(async () => (await jobState()) === 'active', 120_000);

    worker.service.child.kill('SIGTERM');
    expect(await worker.service.exited).toBe(0);
    // Handed back for a retry (the stop cut FFmpeg; that is no failure of the media), its claim gone, nothing lost.
    expect(await jobState()).toBe('retry');
    expect(await query(databaseUrl, 'SELECT job_id FROM job_claims')).toEqual([]);
    expect(await status(accepted.json.id)).toBe('processing');
    expect(worker.service.output()).not.toMatch(/"level":50/); // no error logged by the clean stop

    await start('worker');
    await waitFor(async () => (await status(accepted.json.id)) !== 'processing', 300_000);
    expect(await status(accepted.json.id)).toBe('ready');
    await waitFor(async () => (await jobState()) === 'completed', 60_000);
  }, 600_000);
});
