import { randomBytes } from 'node:crypto';
import { startTestApp, signToken, type TestApp } from '../support/app';
import { request, upload } from '../support/http';
import { makeZip } from '../support/zip';

const MB = 1024 * 1024;

/** The small answers a client reads when it gets something wrong: each says what is wrong. */
describe('what the edge says to a client that got it wrong', () => {
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    t = await startTestApp();
    token = await t.token('edges');
  });
  afterAll(() => t.close());

  it('401 carries WWW-Authenticate: Bearer (RFC 6750), naming an invalid token when one was given', async () => {
    const none = await request(`${t.url}/api/v1/media/storage`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    const bad = await request(`${t.url}/api/v1/media/storage`, { token: 'not.a.token' });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
  });

  it('refuses a token that claims to live longer than 7 days (exp: 1e308 never expires)', async () => {
    const forever = await signToken('forever', [], 1e308);
    const reply = await request(`${t.url}/api/v1/media/storage`, { token: forever });
    expect(reply).toMatchObject({
      status: 401,
      json: { code: 'UNAUTHORIZED', message: expect.stringMatching(/longer than the 7 days/) },
    });
    expect(
      (await request(`${t.url}/api/v1/media/storage`, { token: await signToken('week', [], 6 * 24 * 3600) })).status,
    ).toBe(200);
  });

  it('a JSON body to the upload is told that multipart/form-data is expected, whatever its size', async () => {
    for (const size of [10, 2 * MB]) {
      const reply = await request(`${t.url}/api/v1/media/upload`, {
        method: 'POST',
        token,
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ file: 'x'.repeat(size) }),
      });
      expect(reply).toMatchObject({
        status: 400,
        json: { code: 'VALIDATION_FAILED', message: 'Expected a multipart/form-data body' },
      });
    }
  });

  it("a body larger than every limit, of a type not yet known, is told the largest limit, not one type's", async () => {
    const huge = Buffer.alloc(101 * MB, 0x20);
    const reply = await upload(t.url, token, { name: 'blob.bin', bytes: huge });
    expect(reply).toMatchObject({
      status: 413,
      json: {
        code: 'FILE_TOO_LARGE',
        message: 'The file is larger than 100 MB, the most accepted for any supported type',
      },
    });
  });

  it('a 2 MB JSON body to hash-check is "the JSON body is larger than 64 KiB", not a file limit', async () => {
    const reply = await request(`${t.url}/api/v1/media/hash-check`, {
      method: 'POST',
      token,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ algorithm: 'sha256', hash: 'a'.repeat(2 * MB) }),
    });
    expect(reply).toMatchObject({
      status: 413,
      json: { code: 'FILE_TOO_LARGE', message: 'The JSON body is larger than 64 KiB' },
    });
    const broken = await request(`${t.url}/api/v1/media/hash-check`, {
      method: 'POST',
      token,
      headers: { 'Content-Type': 'application/json' },
      body: '{"algorithm":',
    });
    expect(broken).toMatchObject({
      status: 400,
      json: { code: 'VALIDATION_FAILED', message: 'The JSON body does not parse' },
    });
  });

  it("an archive's preview says it has none; size[]=64 is not taken as 64", async () => {
    const stored = await upload(t.url, token, {
      name: 'a.zip',
      bytes: makeZip([{ name: 'a.bin', data: randomBytes(1000) }]),
    });
    expect(stored.status).toBe(201);
    const preview = await request(`${t.url}/api/v1/media/${stored.json.id}/preview?size=64`, { token });
    expect(preview).toMatchObject({ status: 404, json: { code: 'NOT_FOUND', message: 'This media has no previews' } });
    const image = await upload(t.url, token, {
      name: 'p.png',
      bytes: await require('sharp')({ create: { width: 300, height: 200, channels: 3, background: '#3366aa' } })
        .png()
        .toBuffer(),
    });
    expect(image.status).toBe(201);
    for (const query of ['size[]=64', 'size=64&size=256', 'size[a]=64']) {
      const reply = await request(`${t.url}/api/v1/media/${image.json.id}/preview?${query}`, { token });
      expect({ query, status: reply.status, code: reply.json?.code }).toEqual({
        query,
        status: 400,
        code: 'VALIDATION_FAILED',
      });
    }
    expect((await request(`${t.url}/api/v1/media/${image.json.id}/preview?size=64`, { token })).status).toBe(200);
  });

  it('takes a file part named with filename*= (RFC 5987) as the file', async () => {
    const boundary = '----edge';
    const body = Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename*=UTF-8''n%C3%B6tes.txt\r\nContent-Type: text/plain\r\n\r\n`,
      ),
      Buffer.from('a note, in plain words\n'),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const reply = await request(`${t.url}/api/v1/media/upload`, {
      method: 'POST',
      token,
      headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}` },
      body,
    });
    expect(reply).toMatchObject({ status: 201, json: { originalName: 'nötes.txt', type: 'document' } });
  });
});
