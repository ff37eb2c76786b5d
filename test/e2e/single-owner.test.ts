import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/common/free-port';
import { signToken, TEST_JWT_SECRET } from '../support/app';
import { request, uploadFixture } from '../support/http';
import { MediaGrpcClient } from '../support/media-grpc';
import {
  isAlive,
  postmasterPid,
  ready,
  type Running,
  runService,
  serviceEnv,
  servicePid,
} from '../support/service-process';

/** Start-up refusals of the built service: each leaves the running instance untouched. */
describe('a second instance, and start-up refusals', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'media-test-owner-'));
    dirs.push(dir);
    return dir;
  };
  const dataDir = tempDir();
  let first: Running;
  let base: string;
  let port: number;
  let grpcPort: number;

  beforeAll(async () => {
    port = await freePort();
    grpcPort = await freePort();
    first = runService(
      serviceEnv({
        DATA_DIR: dataDir,
        PORT: String(port),
        GRPC_PORT: String(grpcPort),
        AUTH_JWT_SECRET: TEST_JWT_SECRET,
      }),
    );
    base = `http://127.0.0.1:${port}`;
    await ready(first, base);
  });
  afterAll(async () => {
    const postmaster = postmasterPid(dataDir);
    first.child.kill('SIGTERM');
    await first.exited;
    if (postmaster && isAlive(postmaster)) process.kill(postmaster, 'SIGINT'); // only if the shutdown under test failed
    dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true }));
  });

  /** Runs the service to its end; returns its exit code and output. */
  async function refused(env: Record<string, string>): Promise<{ code: number | string; output: string }> {
    const second = runService(serviceEnv(env));
    const code = await second.exited;
    return { code, output: second.output() };
  }

  async function firstStillServes(): Promise<void> {
    expect((await request(`${base}/health/ready`)).status).toBe(200);
    const token = await signToken(`user-${Math.random().toString(36).slice(2)}`);
    expect((await uploadFixture(base, token, 'png-rgba-alpha-yellow-rose.png')).status).toBe(201);
  }

  it('on the same DATA_DIR (another PORT): refuses naming the running pid, and the first keeps serving', async () => {
    const postmaster = postmasterPid(dataDir);
    const second = await refused({
      DATA_DIR: dataDir,
      PORT: String(await freePort()),
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
    });
    expect(second.code).toBe(1);
    expect(second.output).toContain(
      `DATA_DIR ${dataDir} is in use by another media-service process (pid ${servicePid(first)})`,
    );
    expect(second.output).not.toMatch(/stopping the embedded PostgreSQL|\n\s+at /);
    expect(postmasterPid(dataDir)).toBe(postmaster); // the first instance's database was not touched
    await firstStillServes();
  });

  it('gives the embedded PostgreSQL a password of 192 random bits', () => {
    expect(readFileSync(join(dataDir, 'secrets', 'postgres-password'), 'utf8').trim()).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });

  it('on the same PORT: reports PORT before anything starts', async () => {
    const otherDir = tempDir();
    const second = await refused({ DATA_DIR: otherDir, PORT: String(port), AUTH_JWT_SECRET: TEST_JWT_SECRET });
    expect(second.code).toBe(1);
    expect(second.output).toContain(`PORT ${port} is already in use`);
    expect(second.output).not.toMatch(/Nest application|migrations:|\n\s+at /);
    expect(existsSync(join(otherDir, 'postgres'))).toBe(false);
    // The defaults' case: the same DATA_DIR and the same PORT.
    const twin = await refused({ DATA_DIR: dataDir, PORT: String(port), AUTH_JWT_SECRET: TEST_JWT_SECRET });
    expect(twin.code).toBe(1);
    expect(twin.output).toContain(`PORT ${port} is already in use`);
    await firstStillServes();
  });

  it('on the same GRPC_PORT (another PORT and DATA_DIR): reports GRPC_PORT before anything starts; the first keeps serving gRPC', async () => {
    const otherDir = tempDir();
    const second = await refused({
      DATA_DIR: otherDir,
      PORT: String(await freePort()),
      GRPC_PORT: String(grpcPort),
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
    });
    expect(second.code).toBe(1);
    expect(second.output).toContain(
      `GRPC_PORT ${grpcPort} is already in use by another process: stop it, or set GRPC_PORT to a free port`,
    );
    expect(second.output).not.toMatch(/Nest application|migrations:|\n\s+at /);
    expect(existsSync(join(otherDir, 'postgres'))).toBe(false);
    const grpc = new MediaGrpcClient(`127.0.0.1:${grpcPort}`);
    try {
      expect(await grpc.ok('GetMedia', { acting_user_id: 'alice', media_ids: [] })).toEqual({ media: [] });
    } finally {
      grpc.close();
    }
    expect((await request(`${base}/health/ready`)).json.info.grpc).toEqual({ status: 'up' });
  });

  it('with STORAGE_DRIVER=s3 and no S3_BUCKET: "Missing configuration", no stack, nothing started', async () => {
    const otherDir = tempDir();
    const result = await refused({ DATA_DIR: otherDir, PORT: String(await freePort()), STORAGE_DRIVER: 's3' });
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(/^Missing configuration:\n {2}- S3_BUCKET \(STORAGE_DRIVER=s3\) is required/);
    expect(result.output).not.toMatch(/\n\s+at |\x1b\[/);
    expect(existsSync(join(otherDir, 'postgres'))).toBe(false);
  });
});
