import { startTestApp, type TestApp } from '../support/app';
import { expectUnharmed, filePart, multipartBody, rawExchange } from '../support/hostile';

/*
 * The edges of the multipart parser and of Node's own HTTP parser: part headers and file
 * names past their limits are refused (never silently truncated), and what Node's parser
 * refuses is answered with the contract's error body.
 */

jest.setTimeout(180_000);
const KB = 1024;
let users = 0;

describe('parser edges', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  const head = (token: string, headers: Record<string, string | number>) =>
    `POST /api/v1/media/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n${Object.entries(
      headers,
    )
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('')}\r\n`;
  const send = async (headers: string[], extra: Record<string, string | number> = {}) => {
    const owner = `edge-${++users}`;
    const token = await t.token(owner);
    const body = multipartBody('b0undary', [{ headers, content: 'a short note\n' }]);
    const reply = await rawExchange(
      t.url,
      [
        head(token, {
          'Content-Type': 'multipart/form-data; boundary=b0undary',
          'Content-Length': body.length,
          ...extra,
        }),
        body,
      ],
      { untilFirstResponse: true, waitMs: 5000 },
    );
    return { reply, owner, token };
  };
  const disposition = (filename: string) => `Content-Disposition: form-data; name="file"; filename="${filename}"`;

  it('takes a file name of 1024 bytes, refuses one of 1025 bytes (400, not cut short)', async () => {
    expect((await send([disposition(`${'é'.repeat(510)}.txt`)])).reply.status).toBe(201);
    const { reply, owner, token } = await send([disposition(`${'é'.repeat(510)}x.txt`)]);
    expect({ status: reply.status, code: reply.json?.code }).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
    expect(reply.json.message).toMatch(/file name is too long/);
    await expectUnharmed(t, { owner, token, refused: true, settleMs: 1500 });
  });

  it('refuses part headers of 20 KB even when the file name is short (the parser would drop the excess silently)', async () => {
    const { reply, owner, token } = await send([disposition('note.txt'), `X-Padding: ${'p'.repeat(20 * KB)}`]);
    expect({ status: reply.status, code: reply.json?.code }).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
    expect(reply.json.message).toMatch(/part headers are too large/);
    await expectUnharmed(t, { owner, token, refused: true, settleMs: 1500 });
  });

  it("answers what Node's parser refuses with the contract's body and Connection: close", async () => {
    const token = await t.token('edge-node');
    const body = multipartBody('b0undary', [filePart('note.txt', 'a short note\n')]);
    const cases = [
      {
        status: 400,
        parts: [
          head(token, { 'Content-Type': 'multipart/form-data; boundary=b0undary', 'Content-Length': body.length - 20 }),
          body,
        ],
      },
      {
        status: 400,
        parts: [
          'GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
        ],
      },
      {
        status: 431,
        parts: [`GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ${'p'.repeat(20 * KB)}\r\n\r\n`],
      },
    ];
    for (const { status, parts } of cases) {
      const reply = await rawExchange(t.url, parts, { waitMs: 5000 });
      expect(reply.closed).toBe(true);
      expect(reply.status).toBe(status);
      expect(reply.raw.toString('latin1')).toMatch(/\r\nConnection: close\r\n/i);
      expect(reply.json).toEqual({
        statusCode: status,
        code: 'VALIDATION_FAILED',
        message: expect.any(String),
        requestId: expect.any(String),
      });
    }
  });
});
