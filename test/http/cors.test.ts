import { CORS_EXPOSED_HEADERS, CORS_MAX_AGE_SECONDS } from '../../src/http/cors';
import { everyTypeAtMost, startTestApp, type TestApp } from '../support/app';
import { query } from '../support/database';
import { rawExchange } from '../support/hostile';
import { fixture, type Reply, request, stalledUpload } from '../support/http';
import { textFile } from '../support/random';
import { waitFor } from '../support/wait';

/*
 * CORS (docs/api.md, "Browsers (CORS)"): preflights of every API route, the headers on every
 * answer to an allowed origin — the refusals answered before the body was read and those
 * Node's parser writes on the socket included — and nothing for any other origin, or at all
 * when CORS_ALLOWED_ORIGINS is unset. Node's fetch sends Origin as it is given, like a browser.
 */

jest.setTimeout(180_000);
const KB = 1024;
const MB = 1024 * KB;
const APP = 'http://app.test:8080';
const WEB = 'https://web.example';
const SOME_ID = '00000000-0000-4000-8000-000000000000';
const ELF = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.alloc(MB)]);

const corsHeaders = (reply: Reply) => [...reply.headers.keys()].filter((name) => name.startsWith('access-control-'));
const listed = (value: string | null) => (value ?? '').split(',').map((name) => name.trim().toLowerCase());

/** Node's fetch posting one file part, as a page on `origin` does. */
async function uploadFrom(
  t: TestApp,
  origin: string,
  token: string | undefined,
  bytes: Buffer,
  name = 'f.txt',
): Promise<Reply> {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(bytes)]), name);
  return request(`${t.url}/api/v1/media/upload`, { method: 'POST', body: form, token, headers: { Origin: origin } });
}

function preflight(t: TestApp, path: string, origin: string, method: string, headers: string[]): Promise<Reply> {
  const asked: Record<string, string> = { Origin: origin, 'Access-Control-Request-Method': method };
  if (headers.length) asked['Access-Control-Request-Headers'] = headers.join(',');
  return request(`${t.url}${path}`, { method: 'OPTIONS', headers: asked });
}

/** What every answer to an allowed origin carries. */
function expectReadableBy(reply: Reply, origin: string): void {
  expect(reply.headers.get('access-control-allow-origin')).toBe(origin);
  expect(listed(reply.headers.get('vary'))).toContain('origin');
  expect(listed(reply.headers.get('access-control-expose-headers'))).toEqual(
    CORS_EXPOSED_HEADERS.map((name) => name.toLowerCase()),
  );
  expect(reply.headers.get('access-control-allow-credentials')).toBeNull();
}

describe('CORS for allowed origins', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      env: {
        CORS_ALLOWED_ORIGINS: `${APP}, ${WEB}`,
        UPLOAD_CONCURRENCY_PER_USER: '1',
        QUOTA_STORAGE_BYTES: String(1 * MB),
        ...everyTypeAtMost(2 * MB),
      },
    });
  });
  afterAll(() => t.close());

  const tusHeaders = [
    'authorization',
    'tus-resumable',
    'upload-length',
    'upload-metadata',
    'upload-concat',
    'x-request-id',
  ];
  it.each([
    ['upload', 'POST', '/api/v1/media/upload', ['authorization', 'content-type']],
    ['ranged download', 'GET', `/api/v1/media/${SOME_ID}`, ['authorization', 'range', 'if-none-match', 'if-range']],
    ['download head', 'HEAD', `/api/v1/media/${SOME_ID}`, ['authorization', 'range']],
    ['preview', 'GET', `/api/v1/media/${SOME_ID}/preview?size=256`, ['authorization']],
    ['delete', 'DELETE', `/api/v1/media/${SOME_ID}`, ['authorization']],
    ['signed URL', 'POST', `/api/v1/media/${SOME_ID}/signed-url`, ['authorization', 'content-type']],
    ['tus creation', 'POST', '/api/v1/media/uploads', tusHeaders],
    ['tus offset', 'HEAD', '/api/v1/media/uploads/u1', ['authorization', 'tus-resumable']],
    [
      'tus patch',
      'PATCH',
      '/api/v1/media/uploads/u1',
      ['authorization', 'content-type', 'tus-resumable', 'upload-offset', 'upload-checksum'],
    ],
    [
      'tus patch overridden',
      'POST',
      '/api/v1/media/uploads/u1',
      ['authorization', 'content-type', 'tus-resumable', 'upload-offset', 'x-http-method-override'],
    ],
    ['tus termination', 'DELETE', '/api/v1/media/uploads/u1', ['authorization', 'tus-resumable']],
    ['tus result', 'GET', '/api/v1/media/uploads/u1', ['authorization']],
  ])(
    'answers the preflight of the %s route (%s %s) with 204 and what it may send',
    async (_label, method, path, headers) => {
      for (const origin of [APP, WEB]) {
        const reply = await preflight(t, path, origin, method, headers);
        expect(reply.status).toBe(204);
        expect(reply.body.length).toBe(0);
        expect(reply.headers.get('access-control-allow-origin')).toBe(origin);
        expect(listed(reply.headers.get('vary'))).toContain('origin');
        expect(listed(reply.headers.get('access-control-allow-methods'))).toContain(method.toLowerCase());
        expect(listed(reply.headers.get('access-control-allow-headers'))).toEqual(expect.arrayContaining(headers));
        expect(reply.headers.get('access-control-max-age')).toBe(String(CORS_MAX_AGE_SECONDS));
        expect(reply.headers.get('access-control-allow-credentials')).toBeNull();
        expect(reply.headers.get('x-request-id')).toEqual(expect.any(String));
      }
    },
  );

  it('lets an allowed page read an upload, a ranged download and a preview, with the headers a client reads', async () => {
    const token = await t.token('cors-reader');
    const created = await uploadFrom(t, APP, token, fixture('png-rgba-alpha-yellow-rose.png'), 'rose.png');
    expect(created.status).toBe(201);
    expectReadableBy(created, APP);
    const { id, size } = created.json;
    const ranged = await request(`${t.url}/api/v1/media/${id}`, {
      token,
      headers: { Origin: WEB, Range: 'bytes=0-9' },
    });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes 0-9/${size}`);
    expectReadableBy(ranged, WEB);
    const preview = await request(`${t.url}/api/v1/media/${id}/preview?size=64`, { token, headers: { Origin: APP } });
    expect(preview.status).toBe(200);
    expectReadableBy(preview, APP);
    const deleted = await request(`${t.url}/api/v1/media/${id}`, { token, method: 'DELETE', headers: { Origin: APP } });
    expect(deleted.status).toBe(204);
    expectReadableBy(deleted, APP);
  });

  describe('refusals answered before the body was read', () => {
    afterEach(async () => {
      await waitFor(() => t.tempFiles().length === 0);
      expect(await query(t.databaseUrl, 'SELECT id FROM quota_reservations')).toEqual([]);
    });

    it.each([
      { status: 401, code: 'UNAUTHORIZED', user: undefined, bytes: () => textFile(1, MB) },
      { status: 413, code: 'FILE_TOO_LARGE', user: 'cors-huge', bytes: () => textFile(2, 3 * MB) },
      { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', user: 'cors-elf', bytes: () => ELF },
      { status: 507, code: 'QUOTA_EXCEEDED', user: 'cors-full', bytes: () => textFile(3, 1.5 * MB) },
    ])(
      '$status $code reaches the page, readable, and its next request goes through',
      async ({ status, code, user, bytes }) => {
        const token = user ? await t.token(user) : undefined;
        for (let i = 0; i < 3; i++) {
          const refused = await uploadFrom(t, APP, token, bytes());
          expect({ status: refused.status, code: refused.json?.code }).toEqual({ status, code });
          expectReadableBy(refused, APP);
          const next = await request(`${t.url}/api/v1/media/storage`, {
            token: await t.token(user ?? 'cors-anonymous'),
            headers: { Origin: APP },
          });
          expect(next.status).toBe(200);
          expectReadableBy(next, APP);
        }
      },
    );

    it('429 TOO_MANY_CONCURRENT_UPLOADS reaches the page with its Retry-After readable', async () => {
      const token = await t.token('cors-busy');
      const holding = stalledUpload(t.url, token, { name: 'held.txt', bytes: textFile(4, 64 * KB) });
      await waitFor(
        async () =>
          (await query(t.databaseUrl, "SELECT id FROM quota_reservations WHERE owner_id = 'cors-busy'")).length === 1,
      );
      const refused = await uploadFrom(t, WEB, token, textFile(5, 512 * KB));
      expect({
        status: refused.status,
        code: refused.json?.code,
        retryAfter: refused.headers.get('retry-after'),
      }).toEqual({ status: 429, code: 'TOO_MANY_CONCURRENT_UPLOADS', retryAfter: '1' });
      expectReadableBy(refused, WEB);
      expect((await holding.finish()).status).toBe(201);
      const next = await uploadFrom(t, WEB, token, textFile(6, 512 * KB));
      expect(next.status).toBe(201);
      expectReadableBy(next, WEB);
    });
  });

  it("puts them on the answers Node's HTTP parser refuses, when the Origin came before the refusal", async () => {
    const cases = [
      {
        status: 431,
        head: `GET /api/v1/media/storage HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: ${APP}\r\nX-Padding: ${'p'.repeat(20 * KB)}\r\n\r\n`,
      },
      {
        status: 400,
        head: `GET /api/v1/media/storage HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: ${APP}\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n`,
      },
    ];
    for (const { status, head } of cases) {
      const reply = await rawExchange(t.url, [head], { waitMs: 5000 });
      expect(reply.status).toBe(status);
      const text = reply.raw.toString('latin1');
      expect(text).toMatch(new RegExp(`\r\nAccess-Control-Allow-Origin: ${APP}\r\n`, 'i'));
      expect(text).toMatch(/\r\nAccess-Control-Expose-Headers: [^\r]*X-Request-Id\r\n/i);
      expect(text).toMatch(/\r\nVary: Origin\r\n/i);
      expect(reply.json).toMatchObject({ statusCode: status, code: 'VALIDATION_FAILED' });
    }
    const stranger = await rawExchange(t.url, [cases[0].head.replace(APP, 'https://evil.example')], { waitMs: 5000 });
    expect(stranger.status).toBe(431);
    expect(stranger.raw.toString('latin1')).not.toMatch(/Access-Control-/i);
  });

  it('gives any other origin no CORS headers: its preflight is 204 without them, its answers carry only Vary: Origin', async () => {
    const token = await t.token('cors-stranger');
    for (const origin of [
      'https://evil.example',
      'http://app.test:8081',
      'https://app.test:8080',
      'HTTP://APP.TEST:8080',
      'null',
    ]) {
      const asked = await preflight(t, '/api/v1/media/upload', origin, 'POST', ['authorization']);
      expect({ origin, status: asked.status, cors: corsHeaders(asked) }).toEqual({ origin, status: 204, cors: [] });
      const answered = await request(`${t.url}/api/v1/media/storage`, { token, headers: { Origin: origin } });
      expect({
        origin,
        status: answered.status,
        cors: corsHeaders(answered),
        vary: answered.headers.get('vary'),
      }).toEqual({ origin, status: 200, cors: [], vary: 'Origin' });
      const refused = await uploadFrom(t, origin, token, textFile(7, 3 * MB));
      expect({ origin, status: refused.status, cors: corsHeaders(refused) }).toEqual({ origin, status: 413, cors: [] });
    }
    const sameOrigin = await request(`${t.url}/api/v1/media/storage`, { token });
    expect({ cors: corsHeaders(sameOrigin), vary: sameOrigin.headers.get('vary') }).toEqual({
      cors: [],
      vary: 'Origin',
    });
  });
});

describe('CORS unset (the default)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('answers preflights 204 without CORS headers, and no answer carries any', async () => {
    const token = await t.token('no-cors');
    const asked = await preflight(t, '/api/v1/media/upload', APP, 'POST', ['authorization']);
    expect({ status: asked.status, cors: corsHeaders(asked) }).toEqual({ status: 204, cors: [] });
    const created = await uploadFrom(t, APP, token, fixture('png-rgba-alpha-yellow-rose.png'), 'rose.png');
    const refused = await uploadFrom(t, APP, undefined, textFile(8, MB));
    for (const [status, reply] of [
      [201, created],
      [401, refused],
    ] as const) {
      expect({ status: reply.status, cors: corsHeaders(reply), vary: reply.headers.get('vary') }).toEqual({
        status,
        cors: [],
        vary: null,
      });
    }
  });
});
