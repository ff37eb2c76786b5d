import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { query } from '../support/database';
import { everyTypeAtMost, startTestApp, type TestApp } from '../support/app';
import { fixture, request, upload } from '../support/http';
import { waitFor } from '../support/wait';

const run = promisify(execFile);
const KB = 1024;
const MB = 1024 * KB;
const ELF = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.alloc(MB)]);

/** Distinct text of `size` bytes (a valid document). */
const text = (size: number, seed: string) =>
  Buffer.from(`${seed} `.repeat(Math.ceil(size / (seed.length + 1))).slice(0, size));

/** curl as a user would run it; returns the status, the body and how many bytes curl sent. */
async function curl(
  t: TestApp,
  token: string | undefined,
  args: string[],
): Promise<{ status: number; body: any; sent: number }> {
  const auth = token ? ['-H', `Authorization: Bearer ${token}`] : [];
  const { stdout } = await run('curl', [
    '-sS',
    '--max-time',
    '20',
    ...auth,
    ...args,
    '-w',
    '\n%{http_code} %{size_upload}',
    `${t.url}/api/v1/media/upload`,
  ]);
  const lines = stdout.trimEnd().split('\n');
  const [status, sent] = lines.pop()!.split(' ').map(Number);
  return { status, sent, body: JSON.parse(lines.join('\n') || 'null') };
}

/** Node's fetch with a FormData body, as a browser sends it. */
async function fetchUpload(t: TestApp, token: string | undefined, parts: [string, Blob | string, string?][]) {
  const form = new FormData();
  for (const [name, value, filename] of parts) {
    if (typeof value === 'string') form.append(name, value);
    else form.append(name, value, filename);
  }
  const reply = await fetch(`${t.url}/api/v1/media/upload`, {
    method: 'POST',
    body: form,
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  return { status: reply.status, body: (await reply.json()) as any };
}

describe('the multipart edge and early answers', () => {
  let t: TestApp;
  let dir: string;
  beforeAll(async () => {
    t = await startTestApp({
      env: {
        UPLOAD_CONCURRENCY_PER_USER: '1',
        UPLOAD_BYTES_PER_SECOND: String(512 * KB),
        RATE_LIMIT_PER_MINUTE: '40',
        QUOTA_STORAGE_BYTES: String(1 * MB),
        ...everyTypeAtMost(2 * MB),
      },
    });
    dir = mkdtempSync(join(tmpdir(), 'media-test-curl-'));
    writeFileSync(join(dir, '70000.txt'), text(70_000, 'seventy'));
    writeFileSync(join(dir, 'voice.m4a'), fixture('m4a-aac-from-mp4.m4a'));
    writeFileSync(join(dir, 'big.txt'), text(3 * MB, 'big'));
    writeFileSync(join(dir, 'over-quota.txt'), text(1.5 * MB, 'quota'));
    writeFileSync(join(dir, 'program.bin'), ELF);
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await waitFor(() => t.tempFiles().length === 0, 2000);
    expect(await query(t.databaseUrl, 'SELECT id FROM quota_reservations')).toEqual([]);
  });

  describe('parts other than the one file', () => {
    it('answers 400 at once to a field before a file of any size, and the upload slot is free again', async () => {
      const token = await t.token('caption-curl');
      const reply = await curl(t, token, ['-F', 'caption=hi', '-F', `file=@${join(dir, '70000.txt')}`]);
      expect(reply.status).toBe(400);
      expect(reply.body).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringMatching(/"caption"/) });
      // One upload slot per user here: the refused request no longer holds it.
      expect((await curl(t, token, ['-F', `file=@${join(dir, '70000.txt')}`])).status).toBe(201);
    });

    it('answers 400 to a field before or after the file as a browser sends it, with fetch', async () => {
      const token = await t.token('caption-fetch');
      const file = new Blob([new Uint8Array(text(MB, 'browser'))]);
      expect(
        await fetchUpload(t, token, [
          ['caption', 'hi'],
          ['file', file, 'a.txt'],
        ]),
      ).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
      expect(
        await fetchUpload(t, token, [
          ['file', file, 'a.txt'],
          ['caption', 'hi'],
        ]),
      ).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
      expect(await fetchUpload(t, token, [['photo', file, 'a.txt']])).toMatchObject({
        status: 400,
        body: { message: expect.stringMatching(/"photo"/) },
      });
    });

    it('takes a "file" part sent without a filename as the file', async () => {
      const reply = await curl(t, await t.token('nameless'), ['-F', `file=<${join(dir, 'voice.m4a')}`]);
      expect(reply.status).toBe(201);
      expect(reply.body).toMatchObject({
        type: 'audio',
        originalName: 'file.m4a',
        originalSize: fixture('m4a-aac-from-mp4.m4a').length,
      });
    });
  });

  it('gives back the slot, the reservation and the temp file once the client goes away', async () => {
    const token = await t.token('dropper');
    const url = new URL(`${t.url}/api/v1/media/upload`);
    const req = http.request(url, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${token}`,
        'Content-Type': 'multipart/form-data; boundary=b',
        'Content-Length': String(900 * KB),
      },
    });
    req.on('error', () => {});
    req.write('--b\r\nContent-Disposition: form-data; name="file"; filename="v.txt"\r\n\r\n');
    req.write(text(600 * KB, 'dropped'));
    await waitFor(() => t.tempFiles().length === 1);
    await waitFor(
      async () =>
        (await query(t.databaseUrl, "SELECT id FROM quota_reservations WHERE owner_id = 'dropper'")).length === 1,
    );
    req.destroy();
    await waitFor(() => t.tempFiles().length === 0, 15_000);
    await waitFor(
      async () =>
        (await query(t.databaseUrl, "SELECT id FROM quota_reservations WHERE owner_id = 'dropper'")).length === 0,
      15_000,
    );
    expect((await upload(t.url, token, { name: 'next.txt', bytes: text(1000, 'next') })).status).toBe(201);
  });

  describe('every early status reaches the client', () => {
    const cases: {
      label: string;
      status: number;
      code: string;
      user: string;
      token?: boolean;
      file: string;
      bytes: () => Buffer;
      before?: (t: TestApp, token: string) => Promise<void>;
    }[] = [
      {
        label: 'no token',
        status: 401,
        code: 'UNAUTHORIZED',
        user: 'anonymous',
        token: false,
        file: 'big.txt',
        bytes: () => text(MB, 'anon'),
      },
      {
        label: 'a declared length above every limit',
        status: 413,
        code: 'FILE_TOO_LARGE',
        user: 'huge',
        file: 'big.txt',
        bytes: () => text(3 * MB, 'huge'),
      },
      {
        label: 'unsupported bytes',
        status: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
        user: 'elf',
        file: 'program.bin',
        bytes: () => ELF,
      },
      {
        label: 'a declared length above the quota',
        status: 507,
        code: 'QUOTA_EXCEEDED',
        user: 'full',
        file: 'over-quota.txt',
        bytes: () => text(1.5 * MB, 'full'),
      },
    ];

    it.each(cases)('$status for $label, with fetch, ten times', async ({ status, code, user, token, bytes }) => {
      const bearer = token === false ? undefined : await t.token(user);
      for (let i = 0; i < 10; i++) {
        const reply = await fetchUpload(t, bearer, [['file', new Blob([new Uint8Array(bytes())]), `f${i}.txt`]]);
        expect(reply).toMatchObject({ status, body: { code } });
      }
    });

    it.each(cases)(
      '$status for $label, with curl, with and without Expect: 100-continue',
      async ({ status, code, user, token, file }) => {
        const bearer = token === false ? undefined : await t.token(`${user}-curl`);
        for (const expect100 of [
          ['-H', 'Expect: 100-continue'],
          ['-H', 'Expect:'],
        ]) {
          for (let i = 0; i < 3; i++) {
            const reply = await curl(t, bearer, [...expect100, '-F', `file=@${join(dir, file)}`]);
            expect(reply).toMatchObject({ status, body: { code } });
          }
        }
      },
    );

    it('answers 413 and 507 to a declared length before any body byte is sent, when asked to wait', async () => {
      for (const [user, file, status] of [
        ['wait-huge', 'big.txt', 413],
        ['wait-full', 'over-quota.txt', 507],
      ] as const) {
        const reply = await curl(t, await t.token(user), [
          '-H',
          'Expect: 100-continue',
          '--expect100-timeout',
          '10',
          '-F',
          `file=@${join(dir, file)}`,
        ]);
        expect(reply.status).toBe(status);
        expect(reply.sent).toBe(0);
      }
    });

    it('429 TOO_MANY_CONCURRENT_UPLOADS to each of eight parallel uploads but the one in progress, with fetch', async () => {
      const token = await t.token('parallel');
      const replies = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          fetchUpload(t, token, [['file', new Blob([new Uint8Array(text(700 * KB, `parallel-${i}`))]), `p${i}.txt`]]),
        ),
      );
      const statuses = replies.map((r) => r.status).sort();
      expect(statuses).toEqual([201, 429, 429, 429, 429, 429, 429, 429]);
      expect(replies.filter((r) => r.status === 429).every((r) => r.body.code === 'TOO_MANY_CONCURRENT_UPLOADS')).toBe(
        true,
      );
    });
  });

  it('sends 100 Continue only to an admitted upload', async () => {
    const token = await t.token('continue');
    const body = Buffer.concat([
      Buffer.from('--b\r\nContent-Disposition: form-data; name="file"; filename="c.txt"\r\n\r\n'),
      text(2000, 'continue'),
      Buffer.from('\r\n--b--\r\n'),
    ]);
    const attempt = (bearer: string, length: number) =>
      new Promise<{ continued: boolean; status?: number }>((resolve, reject) => {
        const req = http.request(`${t.url}/api/v1/media/upload`, {
          method: 'POST',
          headers: {
            Authorization: `Bearer ${bearer}`,
            Expect: '100-continue',
            'Content-Type': 'multipart/form-data; boundary=b',
            'Content-Length': String(length),
          },
        });
        let continued = false;
        req.on('continue', () => {
          continued = true;
          req.end(body);
        });
        req.on('response', (res) => {
          res.resume();
          res.on('end', () => resolve({ continued, status: res.statusCode }));
        });
        req.on('error', reject);
        req.flushHeaders();
      });
    expect(await attempt(token, body.length)).toEqual({ continued: true, status: 201 });
    expect(await attempt('not-a-token', body.length)).toEqual({ continued: false, status: 401 });
  });
});

describe('the request rate before the body', () => {
  // One request a minute: once it is spent, nothing refills while the test runs, however slow the machine.
  let t: TestApp;
  let dir: string;
  beforeAll(async () => {
    t = await startTestApp({ env: { RATE_LIMIT_PER_MINUTE: '1' } });
    dir = mkdtempSync(join(tmpdir(), 'media-test-rate-'));
    writeFileSync(join(dir, 'big.txt'), text(3 * MB, 'rate'));
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('429 RATE_LIMITED past the rate, with fetch and curl', async () => {
    const token = await t.token('rate');
    expect((await request(`${t.url}/api/v1/media/storage`, { token })).status).toBe(200);
    const file = new Blob([new Uint8Array(text(MB, 'rate'))]);
    for (let i = 0; i < 5; i++)
      expect(await fetchUpload(t, token, [['file', file, 'r.txt']])).toMatchObject({
        status: 429,
        body: { code: 'RATE_LIMITED' },
      });
    expect(await curl(t, token, ['-F', `file=@${join(dir, 'big.txt')}`])).toMatchObject({
      status: 429,
      body: { code: 'RATE_LIMITED' },
    });
  });
});

describe('the daily count before the body', () => {
  it('answers 429 DAILY_UPLOAD_LIMIT to fetch and curl without losing the answer', async () => {
    const t = await startTestApp({ env: { QUOTA_DAILY_UPLOADS: '0' } });
    const dir = mkdtempSync(join(tmpdir(), 'media-test-curl-'));
    try {
      const token = await t.token('daily');
      writeFileSync(join(dir, 'a.txt'), text(2 * MB, 'daily'));
      for (let i = 0; i < 10; i++) {
        const reply = await fetchUpload(t, token, [
          ['file', new Blob([new Uint8Array(text(MB, `daily${i}`))]), 'd.txt'],
        ]);
        expect(reply).toMatchObject({ status: 429, body: { code: 'DAILY_UPLOAD_LIMIT' } });
      }
      for (const expect100 of ['Expect: 100-continue', 'Expect:']) {
        const reply = await curl(t, token, ['-H', expect100, '-F', `file=@${join(dir, 'a.txt')}`]);
        expect(reply).toMatchObject({ status: 429, body: { code: 'DAILY_UPLOAD_LIMIT' } });
      }
    } finally {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
