import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/common/free-port';
import { KEY_A, signToken, TEST_JWT_SECRET } from '../support/app';
import { type Reply, request, upload } from '../support/http';
import { textFile } from '../support/random';
import { isAlive, postmasterPid, ready, type Running, runService, serviceEnv } from '../support/service-process';
import { waitFor } from '../support/wait';

const KB = 1024;
const BYTES_PER_SECOND = 64 * KB;

/** The built service on its embedded PostgreSQL, which is killed with SIGKILL under it. */
describe('the embedded PostgreSQL supervised by the built service', () => {
  const dirs: string[] = [];
  const running: Running[] = [];
  afterAll(async () => {
    for (const service of running) {
      if (service.child.exitCode === null && service.child.signalCode === null) {
        service.child.kill('SIGTERM');
        await service.exited;
      }
    }
    for (const dir of dirs) {
      const pid = postmasterPid(dir);
      if (pid && isAlive(pid)) process.kill(pid, 'SIGKILL'); // only if the test failed half-way
      rmSync(dir, { recursive: true, force: true });
    }
  });

  async function start(env: Record<string, string> = {}) {
    const dataDir = mkdtempSync(join(tmpdir(), 'media-test-pgrestart-'));
    dirs.push(dataDir);
    const port = await freePort();
    const service = runService(
      serviceEnv({
        DATA_DIR: dataDir,
        PORT: String(port),
        AUTH_JWT_SECRET: TEST_JWT_SECRET,
        MEDIA_MASTER_KEYS: KEY_A,
        RATE_LIMIT_PER_MINUTE: '100000',
        LOG_LEVEL: 'info',
        ...env,
      }),
    );
    running.push(service);
    const base = `http://127.0.0.1:${port}`;
    await ready(service, base, 60_000);
    return { service, base, dataDir };
  }

  const tempFiles = (dataDir: string) =>
    readdirSync(join(dataDir, 'tmp'), { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile());

  /** 503 DEPENDENCY_UNAVAILABLE with Retry-After, or the success expected: never a 500. */
  function expectSuccessOr503(reply: Reply, success: number) {
    if (reply.status === success) return;
    expect({ status: reply.status, code: reply.json?.code }).toEqual({ status: 503, code: 'DEPENDENCY_UNAVAILABLE' });
    expect(Number(reply.headers.get('retry-after'))).toBeGreaterThan(0);
  }

  it('restarts it after kill -9: requests in flight answer 503 with Retry-After (never 500), then uploads and reads succeed again', async () => {
    const { service, base, dataDir } = await start({ UPLOAD_BYTES_PER_SECOND: String(BYTES_PER_SECOND) });
    const reader = await signToken('reader');
    const first = await upload(base, reader, { name: 'before.txt', bytes: textFile(1, 2 * KB), type: 'text/plain' });
    expect(first.status).toBe(201);

    // Uploads in flight (held at 64 KiB/s, ending at different times around the kill), and reads in a loop.
    const inFlight = Array.from({ length: 12 }, async (_, i) =>
      upload(base, await signToken(`uploader-${i}`), {
        name: `in-flight-${i}.txt`,
        bytes: textFile(200 + i, (40 + 12 * i) * KB),
        type: 'text/plain',
      }),
    );
    let reading = true;
    const reads: Reply[] = [];
    const readers = Array.from({ length: 3 }, async () => {
      while (reading) reads.push(await request(`${base}/api/v1/media/storage`, { token: reader }));
    });
    await waitFor(() => tempFiles(dataDir).length >= 6, 30_000);

    const postmaster = postmasterPid(dataDir)!;
    process.kill(postmaster, 'SIGKILL');
    expect((await request(`${base}/health/live`)).status).toBe(200);

    // Back within a generous bound: a new postmaster, reads and uploads succeed.
    await waitFor(
      async () => (await request(`${base}/api/v1/media/${first.json.id}/metadata`, { token: reader })).status === 200,
      60_000,
    );
    const restarted = postmasterPid(dataDir)!;
    expect(restarted).not.toBe(postmaster);
    expect(isAlive(restarted)).toBe(true);
    expect(isAlive(postmaster)).toBe(false);
    const after = await upload(base, reader, { name: 'after.txt', bytes: textFile(2, 2 * KB), type: 'text/plain' });
    expect(after.status).toBe(201);
    expect((await request(`${base}/health/ready`)).status).toBe(200);
    reading = false;
    await Promise.all(readers);

    const replies = await Promise.all(inFlight);
    for (const reply of replies) expectSuccessOr503(reply, 201);
    for (const reply of reads) expectSuccessOr503(reply, 200);
    expect(reads.some((reply) => reply.status === 503)).toBe(true); // the loop did run while the database was down
    expect(service.output()).toMatch(/embedded PostgreSQL \(pid \d+\) ended unexpectedly \(signal SIGKILL\)/);
    expect(service.output()).toMatch(/embedded PostgreSQL restarted \(pid \d+\)/);
    expect(service.output()).not.toMatch(/"statusCode":500/);

    // A graceful stop does not restart it: the service exits 0 and leaves no PostgreSQL running.
    service.child.kill('SIGTERM');
    expect(await service.exited).toBe(0);
    expect(isAlive(restarted)).toBe(false);
    expect(service.output().match(/restarting the embedded PostgreSQL in/g)).toHaveLength(1); // the kill's, not the stop's
  }, 300_000);

  it('gives up when restarts keep failing: liveness fails and the process exits non-zero, to be restarted', async () => {
    const { service, base, dataDir } = await start();
    // The running server has read its configuration; every restart now refuses to start.
    appendFileSync(join(dataDir, 'postgres', 'postgresql.conf'), '\nthis_is_not_a_setting = on\n');
    const postmaster = postmasterPid(dataDir)!;
    process.kill(postmaster, 'SIGKILL');

    const live: number[] = [];
    const watching = (async () => {
      while (service.child.exitCode === null) {
        live.push(
          await fetch(`${base}/health/live`).then(
            (r) => r.status,
            () => 0,
          ),
        );
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    expect(await service.exited).toBe(1);
    await watching;
    expect(live[0]).toBe(200); // live while restarts were still being tried
    expect(service.output()).toMatch(/the embedded PostgreSQL could not be kept running: 5 restarts/);
    expect(service.output().match(/the embedded PostgreSQL did not restart/g)?.length).toBe(5);
    const pid = postmasterPid(dataDir);
    expect(pid === undefined || !isAlive(pid)).toBe(true);
  }, 300_000);
});
