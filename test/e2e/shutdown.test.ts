import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/common/free-port';
import { KEY_A, signToken, TEST_JWT_SECRET } from '../support/app';
import { createTestDatabase, query } from '../support/database';
import { fixture, request, upload } from '../support/http';
import {
  isAlive,
  postmasterPid,
  ready,
  type Running,
  runService,
  serviceEnv,
  servicePid,
} from '../support/service-process';
import { waitFor } from '../support/wait';

const BYTES_PER_SECOND = 64 * 1024;

/** Graceful shutdown of the built service: SIGTERM lets in-flight requests finish, then aborts them. */
describe('shutdown of the built service', () => {
  const dirs: string[] = [];
  const running: Running[] = [];
  afterAll(async () => {
    for (const service of running) service.child.kill('SIGKILL');
    dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true }));
  });

  async function start(env: Record<string, string>): Promise<{ service: Running; base: string; dataDir: string }> {
    const dataDir = mkdtempSync(join(tmpdir(), 'media-test-shutdown-'));
    dirs.push(dataDir);
    const port = await freePort();
    const service = runService(
      serviceEnv({
        DATA_DIR: dataDir,
        PORT: String(port),
        AUTH_JWT_SECRET: TEST_JWT_SECRET,
        MEDIA_MASTER_KEYS: KEY_A,
        ...env,
      }),
    );
    running.push(service);
    const base = `http://127.0.0.1:${port}`;
    await ready(service, base);
    return { service, base, dataDir };
  }

  const tempFiles = (dataDir: string) =>
    readdirSync(join(dataDir, 'tmp'), { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile());

  /** Starts an upload held at BYTES_PER_SECOND by the service; resolves once its temp file exists. */
  async function uploadInFlight(base: string, dataDir: string, user: string, bytes: Buffer) {
    const reply = upload(base, await signToken(user), { name: 'in-flight.bin', bytes });
    reply.catch(() => {});
    await waitFor(() => tempFiles(dataDir).length === 1);
    return { reply };
  }

  it('lets an upload in flight at SIGTERM finish within the grace period, refusing new connections meanwhile', async () => {
    const databaseUrl = await createTestDatabase();
    const { service, base, dataDir } = await start({
      DATABASE_URL: databaseUrl,
      SHUTDOWN_GRACE_SECONDS: '60',
      UPLOAD_BYTES_PER_SECOND: String(BYTES_PER_SECOND),
    });
    const video = fixture('mp4-h264-aac.mp4'); // ≈ 5 s at BYTES_PER_SECOND
    const { reply } = await uploadInFlight(base, dataDir, 'ana', video);
    service.child.kill('SIGTERM');
    await waitFor(
      () =>
        fetch(`${base}/health/live`).then(
          () => false,
          () => true,
        ),
      5000,
    );
    expect(service.child.exitCode).toBeNull(); // still serving the upload

    const finished = await reply;
    expect(finished.status).toBe(201);
    expect(await service.exited).toBe(0);
    expect(service.output()).not.toMatch(/aborting/);
    expect(await query(databaseUrl, 'SELECT owner_id, original_size FROM media')).toEqual([
      { owner_id: 'ana', original_size: String(video.length) },
    ]);
    expect(await query(databaseUrl, 'SELECT * FROM quota_reservations')).toEqual([]);
    expect(tempFiles(dataDir)).toEqual([]);
  });

  it('aborts an upload still running when the grace period ends, leaving no temp file and no reservation', async () => {
    const databaseUrl = await createTestDatabase();
    const { service, base, dataDir } = await start({
      DATABASE_URL: databaseUrl,
      SHUTDOWN_GRACE_SECONDS: '1',
      UPLOAD_BYTES_PER_SECOND: String(BYTES_PER_SECOND),
    });
    const big = Buffer.concat([fixture('zip-html-pages.zip').subarray(0, 60_000), Buffer.alloc(4 * 1024 * 1024)]); // ≈ 60 s
    const { reply } = await uploadInFlight(base, dataDir, 'ben', big);
    expect(await query(databaseUrl, 'SELECT owner_id FROM quota_reservations')).toEqual([{ owner_id: 'ben' }]);
    service.child.kill('SIGTERM');

    await expect(reply).rejects.toThrow(); // the connection is cut: there is no answer to give mid-body
    expect(await service.exited).toBe(0);
    expect(service.output()).toMatch(/grace period over: aborting 1 requests in flight/);
    expect(await query(databaseUrl, 'SELECT * FROM quota_reservations')).toEqual([]);
    expect(await query(databaseUrl, 'SELECT * FROM media')).toEqual([]);
    expect(tempFiles(dataDir)).toEqual([]);
  });

  it('with the database killed: readiness names it and nothing internal, and SIGTERM still stops promptly', async () => {
    const { service, base, dataDir } = await start({});
    const postmaster = postmasterPid(dataDir)!;
    process.kill(postmaster, 'SIGKILL');
    await waitFor(() => !isAlive(postmaster));

    // The supervisor starts it again after a back-off (≥ 0.5 s): readiness is asked until it reports the outage.
    let readiness = await request(`${base}/health/ready`);
    await waitFor(async () => (readiness = await request(`${base}/health/ready`)).status === 503);
    expect(readiness.json).toMatchObject({ status: 'error', error: { database: { status: 'down' } } });
    expect(readiness.body.toString()).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|connect|message|\d{4,5}/);

    const pid = servicePid(service);
    service.child.kill('SIGTERM');
    expect(await service.exited).toBe(0);
    expect(isAlive(pid)).toBe(false);
  });
});
