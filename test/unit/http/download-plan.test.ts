import { contentDisposition, type DownloadRequest, planResponse } from '../../../src/http/download';
import { parseRange } from '../../../src/http/range';

const file = { size: 1000, etag: '"abc"', mimeType: 'image/jpeg', name: 'photo.jpg' };
const get = (headers: Partial<DownloadRequest> = {}): DownloadRequest => ({ method: 'GET', ...headers });

describe('parseRange', () => {
  it.each([
    [undefined, { kind: 'none' }],
    ['bytes=0-0', { kind: 'single', range: { start: 0, end: 0 } }],
    ['bytes=10-', { kind: 'single', range: { start: 10, end: 999 } }],
    ['bytes=-100', { kind: 'single', range: { start: 900, end: 999 } }],
    ['bytes=-5000', { kind: 'single', range: { start: 0, end: 999 } }],
    ['bytes=990-5000', { kind: 'single', range: { start: 990, end: 999 } }],
    ['Bytes=1-2', { kind: 'single', range: { start: 1, end: 2 } }],
    ['bytes=1000-', { kind: 'unsatisfiable' }],
    ['bytes=-0', { kind: 'unsatisfiable' }],
    ['bytes=5-1', { kind: 'none' }],
    ['bytes=0-1,5-6', { kind: 'none' }],
    ['items=0-1', { kind: 'none' }],
    ['bytes=-', { kind: 'none' }],
  ])('%s → %j', (header, expected) => {
    expect(parseRange(header, 1000)).toEqual(expected);
  });

  it('finds nothing satisfiable in an empty file', () => {
    expect(parseRange('bytes=-1', 0)).toEqual({ kind: 'unsatisfiable' });
  });
});

describe('planResponse', () => {
  it.each([
    ['a plain GET', get(), 200, { 'Content-Length': '1000' }, undefined, true],
    ['HEAD', get({ method: 'HEAD' }), 200, { 'Content-Length': '1000' }, undefined, false],
    [
      'one range',
      get({ range: 'bytes=10-19' }),
      206,
      { 'Content-Range': 'bytes 10-19/1000', 'Content-Length': '10' },
      { start: 10, end: 19 },
      true,
    ],
    [
      'HEAD with a range',
      get({ method: 'HEAD', range: 'bytes=10-19' }),
      206,
      { 'Content-Length': '10' },
      { start: 10, end: 19 },
      false,
    ],
    [
      'If-Range matching',
      get({ range: 'bytes=0-0', ifRange: '"abc"' }),
      206,
      { 'Content-Length': '1' },
      { start: 0, end: 0 },
      true,
    ],
    [
      'If-Range stale',
      get({ range: 'bytes=0-0', ifRange: '"old"' }),
      200,
      { 'Content-Length': '1000' },
      undefined,
      true,
    ],
    [
      'If-None-Match matching',
      get({ ifNoneMatch: 'W/"abc", "x"' }),
      304,
      { ETag: '"abc"', 'Cache-Control': 'private, no-cache' },
      undefined,
      false,
    ],
    ['If-None-Match *', get({ ifNoneMatch: '*', range: 'bytes=0-0' }), 304, {}, undefined, false],
    ['If-None-Match other', get({ ifNoneMatch: '"x"' }), 200, {}, undefined, true],
    ['a range past the end', get({ range: 'bytes=2000-' }), 416, { 'Content-Range': 'bytes */1000' }, undefined, false],
  ] as const)('%s', (_label, request, status, headers, range, sendBody) => {
    const plan = planResponse(request, file);
    expect(plan.status).toBe(status);
    expect(plan.headers).toMatchObject(headers);
    expect(plan.range).toEqual(range);
    expect(plan.sendBody).toBe(sendBody);
  });

  it('puts the contract headers on every served body', () => {
    expect(planResponse(get(), file).headers).toEqual({
      'Content-Type': 'image/jpeg',
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy': "default-src 'none'; sandbox",
      'Content-Disposition': 'inline; filename=photo.jpg',
      'Accept-Ranges': 'bytes',
      ETag: '"abc"',
      'Cache-Control': 'private, no-cache',
      'Content-Length': '1000',
    });
  });

  it.each([
    ['application/pdf', 'attachment'],
    ['text/plain; charset=utf-8', 'attachment'],
    ['image/svg+xml', 'attachment'],
    ['video/mp4', 'inline'],
    ['audio/ogg', 'inline'],
  ])('serves %s as %s', (mimeType, kind) => {
    expect(planResponse(get(), { ...file, mimeType }).headers['Content-Disposition']).toMatch(new RegExp(`^${kind};`));
  });
});

describe('contentDisposition', () => {
  it.each([
    ['plain.txt', 'attachment; filename=plain.txt'],
    ['résumé 2026.pdf', `attachment; filename="r_sum_ 2026.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%202026.pdf`],
    ['a"b\\c%d.txt', `attachment; filename=a_b_c_d.txt; filename*=UTF-8''a%22b%5Cc%25d.txt`],
    ["it's (1)*.txt", `attachment; filename="it's (1)*.txt"`],
    ['聊天.jpg', `attachment; filename=__.jpg; filename*=UTF-8''%E8%81%8A%E5%A4%A9.jpg`],
  ])('%s', (name, header) => {
    expect(contentDisposition('attachment', name)).toBe(header);
  });
});
