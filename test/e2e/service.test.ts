import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/common/free-port';
import { fixture, request, uploadFixture } from '../support/http';
import { waitFor } from '../support/wait';

/**
 * The built service as `npm start` runs it (dist/src/main.js, embedded PostgreSQL under
 * DATA_DIR, generated development secrets), with the built scripts beside it.
 */
const ROOT = join(__dirname, '..', '..');
const MAIN = join(ROOT, 'dist', 'src', 'main.js');
const script = (name: string) => join(ROOT, 'dist', 'scripts', `${name}.js`);

describe('the built service on the embedded defaults', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'media-test-e2e-'));
  let child: ChildProcess | undefined;
  let port: number;
  let env: Record<string, string>;

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error('dist/ is missing: npm test builds it first (npm run build)');
    port = await freePort();
    env = {
      ...(process.env as Record<string, string>),
      DATA_DIR: dataDir,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      NODE_ENV: 'development',
      QUOTA_DAILY_UPLOADS: '2',
      UPLOAD_BYTES_PER_SECOND: String(256 * 1024),
    };
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
      const ready = await fetch(`${base}/health/ready`).then(
        (r) => r.status === 200,
        () => false,
      );
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
    execFileSync(process.execPath, [script('token'), user], { env: { ...env, ...extraEnv } })
      .toString()
      .trim();

  it('serves, survives kill -9 and a restart, rotates keys, and shuts down cleanly', async () => {
    let base = await start();
    const alice = token('alice');
    const created = await uploadFixture(base, alice, 'zip-html-pages.zip');
    expect(created.status).toBe(201);
    expect(
      (await request(`${base}/api/v1/media/${created.json.id}`, { token: alice })).body.equals(
        fixture('zip-html-pages.zip'),
      ),
    ).toBe(true);

    // kill -9 in the middle of an upload: PostgreSQL keeps running, a temp file and a
    // quota reservation (holding one of the two daily uploads) are left behind.
    const [tag] = readdirSync(join(dataDir, 'tmp'));
    const cut = http.request(`${base}/api/v1/media/upload`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${alice}`,
        'Content-Type': 'multipart/form-data; boundary=b',
        'Content-Length': String(8 * 1024 * 1024),
      },
    });
    cut.on('error', () => {});
    cut.write('--b\r\nContent-Disposition: form-data; name="file"; filename="big.zip"\r\n\r\n');
    cut.write(fixture('zip-html-pages.zip').subarray(0, 60_000));
    cut.write(Buffer.alloc(1024 * 1024));
    await waitFor(() => readdirSync(join(dataDir, 'tmp', tag)).length === 1);
    await stop('SIGKILL');
    cut.destroy();

    base = await start();
    await waitFor(() => !readdirSync(join(dataDir, 'tmp')).includes(tag));
    const pdf = await uploadFixture(base, token('alice'), 'pdf-tables-gofpdf.pdf');
    expect(pdf.status).toBe(201); // the dead upload's daily slot was given back at start-up
    expect((await request(`${base}/api/v1/media/storage`, { token: token('alice') })).json).toMatchObject({
      fileCount: 2,
      uploadsToday: 2,
    });
    expect((await request(`${base}/api/v1/media/${created.json.id}`, { token: token('alice') })).status).toBe(200);

    // Graceful stop: exit code 0 and the embedded server stopped with it.
    expect(await stop('SIGTERM')).toBe(0);
    expect(existsSync(join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);

    // Rotate from the generated development key to a new one, then drop the old one.
    const devKeys = readFileSync(join(dataDir, 'secrets', 'master-keys'), 'utf8').trim();
    const newKey = `k2:${Buffer.alloc(32, 0x42).toString('base64')}`;
    const rotation = execFileSync(process.execPath, [script('keys-rotate')], {
      env: { ...env, MEDIA_MASTER_KEYS: `${newKey},${devKeys}` },
    }).toString();
    expect(rotation).toMatch(/5 data keys re-wrapped to master key "k2"/); // the ZIP, the PDF and its three previews
    expect(rotation).toMatch(/the old keys may be removed/);
    base = await start({ MEDIA_MASTER_KEYS: newKey });
    const download = await request(`${base}/api/v1/media/${created.json.id}`, { token: token('alice') });
    expect(download.body.equals(fixture('zip-html-pages.zip'))).toBe(true);
    const pdfBack = await request(`${base}/api/v1/media/${pdf.json.id}`, { token: token('alice') });
    expect(createHash('sha256').update(pdfBack.body).digest('hex')).toBe(pdf.json.sha256);
    expect(await stop('SIGTERM')).toBe(0);

    // npm run migrate on an up-to-date database applies nothing and succeeds.
    const migrated = execFileSync(process.execPath, [script('migrate')], { env }).toString();
    expect(migrated).toMatch(/migrations: 0 applied, \d+ in all/);
  }, 420_000);

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
