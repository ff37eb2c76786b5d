import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEY_A, signToken, TEST_JWT_SECRET } from '../support/app';
import { createTestDatabase } from '../support/database';
import { STAGES } from '../../src/observability/metrics';
import { fixture, request, upload } from '../support/http';
import { waitFor } from '../support/wait';

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

describe('request logs (nestjs-pino on Nest 12)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'media-test-logs-'));
  let child: ChildProcess;
  let base: string;
  const output: string[] = [];
  const lines = () =>
    output
      .join('')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line));

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist', 'src', 'bootstrap.js')))
      throw new Error('dist/ is missing: npm test builds it first (npm run build)');
    const env = {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      DATA_DIR: dataDir,
      DATABASE_URL: await createTestDatabase(),
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      MEDIA_MASTER_KEYS: KEY_A,
    };
    child = spawn(process.execPath, ['-e', BOOT], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (chunk) => output.push(String(chunk)));
    let errors = '';
    child.stderr!.on('data', (chunk) => (errors += String(chunk)));
    await waitFor(() => /PORT \d+/.test(errors) || child.exitCode !== null, 30_000);
    if (child.exitCode !== null) throw new Error(`app exited: ${errors}`);
    base = `http://127.0.0.1:${/PORT (\d+)/.exec(errors)![1]}`;
  });
  afterAll(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
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

  it("routes Nest's own messages through pino", () => {
    expect(lines().some((line) => line.level === 30 && /Nest application successfully started/.test(line.msg))).toBe(
      true,
    );
  });
});
