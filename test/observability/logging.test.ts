import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEY_A, signToken, TEST_JWT_SECRET } from '../support/app';
import { createTestDatabase, query } from '../support/database';
import { STAGES } from '../../src/observability/metrics';
import { fixture, request, upload } from '../support/http';
import { waitFor } from '../support/wait';
import { makeZip } from '../support/zip';

/**
 * nestjs-pino 4.6.1 is its last release for Node 20 but declares Nest ≤ 11 (package.json
 * overrides its peer range for Nest 12): the built app's logs prove it works. Its own
 * process, because pino writes straight to file descriptor 1.
 */
const ROOT = join(__dirname, '..', '..');
const BOOT = `
  const { createApp } = require('./dist/src/bootstrap.js');
  const { loadConfig } = require('./dist/src/config/load-config.js');
  createApp(loadConfig()).then(async (app) => {
    await app.listen(0, '127.0.0.1');
    process.stderr.write('PORT ' + app.getHttpServer().address().port + '\\n');
  });
`;

/** The built app in its own process at LOG_LEVEL `level`: its base URL, DATA_DIR and the JSON lines it wrote. */
function loggedApp(level: string) {
  const dataDir = mkdtempSync(join(tmpdir(), 'media-test-logs-'));
  let child: ChildProcess;
  const app = {
    base: '',
    dataDir,
    databaseUrl: '',
    output: [] as string[],
    lines: () =>
      app.output
        .join('')
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line)),
  };
  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist', 'src', 'bootstrap.js')))
      throw new Error('dist/ is missing: npm test builds it first (npm run build)');
    app.databaseUrl = await createTestDatabase();
    const env = {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: level,
      DATA_DIR: dataDir,
      DATABASE_URL: app.databaseUrl,
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      MEDIA_MASTER_KEYS: KEY_A,
    };
    child = spawn(process.execPath, ['-e', BOOT], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (chunk) => app.output.push(String(chunk)));
    let errors = '';
    child.stderr!.on('data', (chunk) => (errors += String(chunk)));
    await waitFor(() => /PORT \d+/.test(errors) || child.exitCode !== null, 30_000);
    if (child.exitCode !== null) throw new Error(`app exited: ${errors}`);
    app.base = `http://127.0.0.1:${/PORT (\d+)/.exec(errors)![1]}`;
  });
  afterAll(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });
  return app;
}

describe('request logs (nestjs-pino on Nest 12)', () => {
  const app = loggedApp('info');
  const output = app.output;
  const lines = app.lines;
  let base: string;
  beforeAll(() => {
    base = app.base;
  });

  it('logs each request as JSON with its request id, without credentials, tokens or health checks', async () => {
    const token = await signToken('log-alice');
    expect(
      (await request(`${base}/api/v1/media/storage`, { token, headers: { 'X-Request-Id': 'log-test-1' } })).status,
    ).toBe(200);
    expect(
      (
        await request(`${base}/api/v1/media/00000000-0000-4000-8000-000000000000?token=signed-secret`, {
          headers: { 'X-Request-Id': 'log-test-2' },
        })
      ).status,
    ).toBe(401);
    expect((await request(`${base}/health/live`, { headers: { 'X-Request-Id': 'log-test-3' } })).status).toBe(200);
    await waitFor(() => lines().some((line) => line.req?.id === 'log-test-2'));

    const storage = lines().find((line) => line.req?.id === 'log-test-1');
    expect(storage).toMatchObject({ req: { method: 'GET', url: '/api/v1/media/storage' }, res: { statusCode: 200 } });
    expect(lines().find((line) => line.req?.id === 'log-test-2')?.req.url).toBe(
      '/api/v1/media/00000000-0000-4000-8000-000000000000?token=[redacted]',
    );
    expect(lines().some((line) => line.req?.id === 'log-test-3')).toBe(false);
    const all = output.join('');
    expect(all).not.toContain(token);
    expect(all).not.toContain('signed-secret');
  });

  it('writes one line per upload with its user, media, status, duration and time per stage', async () => {
    const token = await signToken('log-uploader');
    const reply = await upload(base, token, {
      name: 'rose.png',
      bytes: fixture('png-rgba-alpha-yellow-rose.png'),
      headers: { 'X-Request-Id': 'log-upload-1' },
    });
    expect(reply.status).toBe(201);
    await waitFor(() => lines().some((line) => line.req?.id === 'log-upload-1'));
    const line = lines().find((entry) => entry.req?.id === 'log-upload-1');
    expect(line).toMatchObject({
      userId: 'log-uploader',
      mediaId: reply.json.id,
      mediaType: 'image',
      res: { statusCode: 201 },
    });
    expect(line.responseTime).toEqual(expect.any(Number));
    expect(Object.keys(line.stagesMs).sort()).toEqual([...STAGES].sort());
    for (const ms of Object.values(line.stagesMs)) expect(ms).toEqual(expect.any(Number));
    expect(output.join('')).not.toContain(token);
  });

  it('a download the client leaves mid-way is its request line, not a failure', async () => {
    const token = await signToken('log-leaver');
    const zip = makeZip([{ name: 'noise.bin', data: randomBytes(24 * 1024 * 1024) }]);
    const created = await upload(base, token, { name: 'big.zip', bytes: zip });
    expect(created.status).toBe(201);
    for (const [path, id] of [
      [`/api/v1/media/${created.json.id}`, 'log-leave-lane'],
      // The same id, percent-encoded: the way through Nest (read-lane.ts).
      [`/api/v1/media/%${created.json.id.charCodeAt(0).toString(16)}${created.json.id.slice(1)}`, 'log-leave-nest'],
    ]) {
      await new Promise<void>((resolve, reject) => {
        const req = http.get(`${base}${path}`, { headers: { Authorization: `Bearer ${token}`, 'X-Request-Id': id } });
        req.on('response', (res) => {
          expect(res.statusCode).toBe(200);
          res.once('data', () => {
            req.destroy(); // hangs up after the first bytes
            resolve();
          });
        });
        req.on('error', (error) => (req.destroyed ? resolve() : reject(error)));
      });
      await waitFor(() => lines().some((line) => line.req?.id === id));
    }
    // A request after them: the service has run whatever it does on a hang-up by its answer.
    expect((await request(`${base}/api/v1/media/storage`, { token })).status).toBe(200);
    const failures = lines().filter((line) => line.level >= 50);
    expect(failures).toEqual([]);
  });

  it("routes Nest's own messages through pino", () => {
    expect(lines().some((line) => line.level === 30 && /Nest application successfully started/.test(line.msg))).toBe(
      true,
    );
  });
});

describe('above info (LOG_LEVEL=warn): no request lines, and a failure still logged with its request id', () => {
  const app = loggedApp('warn');

  it('writes no line for answered requests, echoes request ids, and logs a 500 once with its request id', async () => {
    const token = await signToken('log-warn');
    const text = Buffer.from('a note to break\n'.repeat(100));
    const created = await upload(app.base, token, { name: 'note.txt', bytes: text });
    expect(created.status).toBe(201);
    const ok = await request(`${app.base}/api/v1/media/${created.json.id}/metadata`, {
      token,
      headers: { 'X-Request-Id': 'warn-ok-1' },
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-request-id')).toBe('warn-ok-1');
    // Its stored blob broken before any read: the download fails authentication, a 500.
    const [row] = await query(app.databaseUrl, 'SELECT blob_key FROM media WHERE id = $1', [created.json.id]);
    const path = join(app.dataDir, 'storage', ...row.blob_key.split('/'));
    const blob = readFileSync(path);
    blob[40] ^= 1;
    writeFileSync(path, blob);
    const failed = await request(`${app.base}/api/v1/media/${created.json.id}`, {
      token,
      headers: { 'X-Request-Id': 'warn-fail-1' },
    });
    expect(failed.status).toBe(500);
    await waitFor(() => app.lines().some((line) => line.requestId === 'warn-fail-1'));
    const failure = app.lines().filter((line) => line.requestId === 'warn-fail-1');
    expect(failure).toHaveLength(1);
    expect(failure[0]).toMatchObject({ level: 50, msg: 'request failed' });
    expect(app.lines().some((line) => line.req !== undefined)).toBe(false);
    expect(app.output.join('')).not.toContain(token);
  });
});
