import { ReadLane } from '../../src/http/read-lane';
import { startTestApp, type TestApp } from '../support/app';
import { fixture, request, upload } from '../support/http';
import { picture } from '../support/pictures';

const APP = 'https://app.example';

/**
 * The read lane (src/http/read-lane.ts) serves the canonical form of GET and HEAD of a
 * media's metadata, file and preview; every other form of the same request goes the general
 * way (Express, Nest). The same request both ways, with the same X-Request-Id, must get the
 * same answer to the byte: status, every header but Date, and body. The id with its first
 * character percent-encoded is the same id to Express and not the lane's canonical form.
 */
describe('the read lane answers exactly as the general way', () => {
  let t: TestApp;
  let owner: string;
  let stranger: string;
  let image: string;
  let note: string;
  const taken: boolean[] = [];
  let spy: jest.SpyInstance;

  beforeAll(async () => {
    spy = jest.spyOn(ReadLane.prototype, 'take');
    t = await startTestApp({ env: { CORS_ALLOWED_ORIGINS: APP } });
    owner = await t.token('lane-owner');
    stranger = await t.token('lane-stranger');
    image = (await upload(t.url, owner, { name: 'p.png', bytes: await picture(7, 640, 480) })).json.id;
    note = (await upload(t.url, owner, { name: 'n.txt', bytes: fixture('txt-utf8-demo.txt') })).json.id;
  });
  afterAll(async () => {
    spy.mockRestore();
    await t.close();
  });

  let round = 0;
  /** Sends `path` (with `{id}` for the media id) canonical, then encoded: the lane must take the first only. */
  async function bothWays(id: string, path: string, init: RequestInit & { token?: string } = {}) {
    const encoded = `%${id.charCodeAt(0).toString(16)}${id.slice(1)}`;
    const replies = [];
    const requestId = `lane-check-${++round}`;
    for (const form of [id, encoded]) {
      const headers = new Headers(init.headers);
      headers.set('X-Request-Id', requestId);
      spy.mockClear();
      replies.push(await request(`${t.url}${path.replace('{id}', form)}`, { ...init, headers }));
      taken.push(...spy.mock.results.map((result) => result.value as boolean));
    }
    expect(taken.splice(0)).toEqual([true, false]); // else this compares one way with itself
    return replies;
  }

  function expectSame([lane, general]: Awaited<ReturnType<typeof bothWays>>, status: number): void {
    const headersOf = (reply: (typeof lane)['headers']) => [...reply.entries()].filter(([name]) => name !== 'date'); // X-Request-Id too: both carry the one sent
    expect(lane.status).toBe(status);
    expect(general.status).toBe(status);
    expect(headersOf(lane.headers)).toEqual(headersOf(general.headers));
    expect(lane.body.equals(general.body)).toBe(true);
  }

  it('metadata: 200, 304 on its ETag, HEAD, CORS headers, 401, 404 for a stranger, 400 for a bad id', async () => {
    const [first] = await bothWays(image, '/api/v1/media/{id}/metadata', { token: owner });
    const etag = first.headers.get('etag') ?? '';
    expect(etag).toMatch(/^W\/"/);
    // fetch adds Cache-Control: no-cache to a conditional request (which rules out 304) unless one is given.
    const conditional = { 'If-None-Match': etag, 'Cache-Control': 'max-age=0' };
    expectSame(await bothWays(image, '/api/v1/media/{id}/metadata', { token: owner, headers: conditional }), 304);
    expectSame(
      await bothWays(image, '/api/v1/media/{id}/metadata', { token: owner, headers: { 'If-None-Match': etag } }),
      200,
    );
    expectSame(await bothWays(image, '/api/v1/media/{id}/metadata', { token: owner, method: 'HEAD' }), 200);
    expectSame(await bothWays(image, '/api/v1/media/{id}/metadata', { token: owner, headers: { Origin: APP } }), 200);
    expectSame(await bothWays(image, '/api/v1/media/{id}/metadata'), 401);
    expectSame(await bothWays(image, '/api/v1/media/{id}/metadata', { token: 'not.a.token' }), 401);
    expectSame(await bothWays(image, '/api/v1/media/{id}/metadata', { token: stranger }), 404);
    expectSame(await bothWays('abc', '/api/v1/media/{id}/metadata', { token: owner }), 400);
  });

  it('the file: 200, a Range, a Range past the end, 304, HEAD', async () => {
    expectSame(await bothWays(note, '/api/v1/media/{id}', { token: owner }), 200);
    expectSame(await bothWays(note, '/api/v1/media/{id}', { token: owner, headers: { Range: 'bytes=2-9' } }), 206);
    expectSame(await bothWays(note, '/api/v1/media/{id}', { token: owner, headers: { Range: 'bytes=999999-' } }), 416);
    const [whole] = await bothWays(note, '/api/v1/media/{id}', { token: owner });
    const etag = whole.headers.get('etag') ?? '';
    expectSame(await bothWays(note, '/api/v1/media/{id}', { token: owner, headers: { 'If-None-Match': etag } }), 304);
    expectSame(await bothWays(note, '/api/v1/media/{id}', { token: owner, method: 'HEAD' }), 200);
  });

  it('the preview: each size, a size not offered, a size given twice', async () => {
    for (const size of ['', '?size=64', '?size=512'])
      expectSame(await bothWays(image, `/api/v1/media/{id}/preview${size}`, { token: owner }), 200);
    expectSame(await bothWays(image, '/api/v1/media/{id}/preview?size=99', { token: owner }), 400);
    expectSame(await bothWays(image, '/api/v1/media/{id}/preview?size=64&size=256', { token: owner }), 400);
    expectSame(await bothWays(note, '/api/v1/media/{id}/preview?size=64', { token: owner }), 200);
  });

  it("names its requests' metrics by route pattern, as Express does", async () => {
    await bothWays(image, '/api/v1/media/{id}/preview?size=64', { token: owner });
    const metrics = (await request(`${t.url}/metrics`)).body.toString();
    const counted = (route: string) =>
      new RegExp(`media_http_request_duration_seconds_count\\{method="GET",route="${route}",status="200"\\} \\d+`);
    for (const route of ['/api/v1/media/:id', '/api/v1/media/:id/metadata', '/api/v1/media/:id/preview'])
      expect(metrics).toMatch(counted(route));
    expect(metrics).not.toMatch(/route="unmatched"/);
  });

  it('a signed URL: opens its file, not the metadata; a token given twice is refused', async () => {
    const minted = await request(`${t.url}/api/v1/media/${note}/signed-url`, {
      method: 'POST',
      token: owner,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ expiresIn: 600, variant: 'original' }),
    });
    expect(minted.status).toBe(201);
    const signed = new URL(minted.json.url, t.url).searchParams.get('token') ?? '';
    expectSame(await bothWays(note, `/api/v1/media/{id}?token=${signed}`), 200);
    expectSame(await bothWays(note, `/api/v1/media/{id}/metadata?token=${signed}`), 401);
    expectSame(await bothWays(note, `/api/v1/media/{id}?token=${signed}&token=${signed}`), 401);
  });
});
