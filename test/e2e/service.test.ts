import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture, request, uploadFixture } from '../support/http';

/**
 * The built service as `npm start` runs it (dist/src/main.js, embedded PostgreSQL under
 * DATA_DIR, generated development secrets), with the built scripts beside it.
 */
const ROOT = join(__dirname, '..', '..');
const MAIN = join(ROOT, 'dist', 'src', 'main.js');
const script = (name: string) => join(ROOT, 'dist', 'scripts', `${name}.js`);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('the built service on the embedded defaults', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'media-test-e2e-'));
  let child: ChildProcess | undefined;
  let port: number;
  let env: Record<string, string>;

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error('dist/ is missing: npm test builds it first (npm run build)');
    port = await freePort();
    env = { ...(process.env as Record<string, string>), DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'warn', NODE_ENV: 'development' };
    delete env.DATABASE_URL;
  });
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    const pidFile = join(dataDir, 'postgres', 'postmaster.pid');
    if (existsSync(pidFile)) {
      try {
        process.kill(Number(readFileSync(pidFile, 'utf8').split('\n')[0]), 'SIGINT');
      } catch {
        /* already gone */
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function start(extraEnv: Record<string, string> = {}): Promise<string> {
    const output: string[] = [];
    child = spawn(process.execPath, [MAIN], { env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (chunk) => output.push(String(chunk)));
    child.stderr!.on('data', (chunk) => output.push(String(chunk)));
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 150; i++) {
      if (child.exitCode !== null) throw new Error(`service exited (${child.exitCode}):\n${output.join('')}`);
      const ready = await fetch(`${base}/health/ready`).then((r) => r.status === 200, () => false);
      if (ready) return base;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`service not ready:\n${output.join('')}`);
  }

  function stop(signal: NodeJS.Signals): Promise<number | null> {
    return new Promise((resolve) => {
      child!.once('exit', (code) => resolve(code));
      child!.kill(signal);
    });
  }

  const token = (user: string, extraEnv: Record<string, string> = {}) =>
    execFileSync(process.execPath, [script('token'), user], { env: { ...env, ...extraEnv } }).toString().trim();

  it('serves, survives kill -9 and a restart, rotates keys, and shuts down cleanly', async () => {
    let base = await start();
    const alice = token('alice');
    const created = await uploadFixture(base, alice, 'jpeg-exif-gps-nikon-d2h.jpg');
    expect(created.status).toBe(201);
    expect((await request(`${base}/api/v1/media/${created.json.id}`, { token: alice })).body.equals(fixture('jpeg-exif-gps-nikon-d2h.jpg'))).toBe(true);

    // A crash leaves PostgreSQL running and a temp dir behind; the next start repairs both.
    const tempDirsBefore = readdirSync(join(dataDir, 'tmp'));
    expect(tempDirsBefore).toHaveLength(1);
    await stop('SIGKILL');
    base = await start();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(readdirSync(join(dataDir, 'tmp'))).not.toContain(tempDirsBefore[0]);
    expect((await request(`${base}/api/v1/media/${created.json.id}`, { token: token('alice') })).status).toBe(200);

    // Graceful stop: exit code 0 and the embedded server stopped with it.
    expect(await stop('SIGTERM')).toBe(0);
    expect(existsSync(join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);

    // Rotate from the generated development key to a new one, then drop the old one.
    const devKeys = readFileSync(join(dataDir, 'secrets', 'master-keys'), 'utf8').trim();
    const newKey = `k2:${Buffer.alloc(32, 0x42).toString('base64')}`;
    const rotation = execFileSync(process.execPath, [script('keys-rotate')], { env: { ...env, MEDIA_MASTER_KEYS: `${newKey},${devKeys}` } }).toString();
    expect(rotation).toMatch(/1 data keys re-wrapped to master key "k2"/);
    expect(rotation).toMatch(/the old keys may be removed/);
    base = await start({ MEDIA_MASTER_KEYS: newKey });
    const download = await request(`${base}/api/v1/media/${created.json.id}`, { token: token('alice') });
    expect(download.body.equals(fixture('jpeg-exif-gps-nikon-d2h.jpg'))).toBe(true);
    expect(await stop('SIGTERM')).toBe(0);

    // npm run migrate on an up-to-date database applies nothing and succeeds.
    const migrated = execFileSync(process.execPath, [script('migrate')], { env }).toString();
    expect(migrated).toMatch(/migrations: 0 applied, 1 in all/);
  });

  it('refuses to start in production without secrets, naming the variables', () => {
    let stderr = '';
    try {
      execFileSync(process.execPath, [MAIN], { env: { ...env, NODE_ENV: 'production' }, stdio: 'pipe' });
    } catch (error) {
      stderr = String((error as { stderr: Buffer }).stderr);
    }
    expect(stderr).toMatch(/AUTH_JWT_SECRET/);
    expect(stderr).toMatch(/MEDIA_MASTER_KEYS/);
  });
});
