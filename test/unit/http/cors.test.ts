import { readFileSync } from 'node:fs';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { join } from 'node:path';
import {
  CORS_ALLOWED_HEADERS,
  CORS_ALLOWED_METHODS,
  CORS_EXPOSED_HEADERS,
  CORS_MAX_AGE_SECONDS,
  CorsPolicy,
  isPreflight,
  originInRawRequest,
} from '../../../src/http/cors';

const APP = 'https://app.example';
const policy = new CorsPolicy([APP, 'http://localhost:5173']);

function exchange(method: string, headers: Record<string, string>): { req: IncomingMessage; res: ServerResponse } {
  const req = new IncomingMessage(new Socket());
  req.method = method;
  req.headers = headers;
  return { req, res: new ServerResponse(req) };
}

describe('CorsPolicy.headersFor', () => {
  it('names an allowed origin exactly, exposes the headers clients read, and never allows credentials', () => {
    expect(policy.headersFor(APP)).toEqual({
      'Access-Control-Allow-Origin': APP,
      'Access-Control-Expose-Headers': CORS_EXPOSED_HEADERS.join(', '),
      Vary: 'Origin',
    });
    expect(policy.headersFor('http://localhost:5173')['Access-Control-Allow-Origin']).toBe('http://localhost:5173');
  });

  it.each([
    undefined,
    'https://app.example:443',
    'https://APP.example',
    'http://app.example',
    'https://app.example.evil',
    'null',
    'https://app.example/',
  ])('gives %s only Vary: Origin', (origin) => {
    expect(policy.headersFor(origin)).toEqual({ Vary: 'Origin' });
  });

  it('gives nothing at all when no origin is allowed', () => {
    expect(new CorsPolicy([]).headersFor(APP)).toEqual({});
  });
});

describe('CorsPolicy.preflightHeadersFor', () => {
  it('tells an allowed origin what it may send, and for how long', () => {
    expect(policy.preflightHeadersFor(APP)).toEqual({
      'Access-Control-Allow-Origin': APP,
      'Access-Control-Allow-Methods': 'GET, HEAD, POST, PATCH, DELETE',
      'Access-Control-Allow-Headers': CORS_ALLOWED_HEADERS.join(', '),
      'Access-Control-Max-Age': String(CORS_MAX_AGE_SECONDS),
      Vary: 'Origin',
    });
  });

  it('tells any other origin nothing', () => {
    expect(policy.preflightHeadersFor('https://evil.example')).toEqual({ Vary: 'Origin' });
    expect(new CorsPolicy([]).preflightHeadersFor(APP)).toEqual({});
  });
});

describe('CorsPolicy.apply', () => {
  it('adds Origin to a Vary already set, once', () => {
    const { req, res } = exchange('GET', { origin: APP });
    res.setHeader('Vary', 'Accept-Encoding');
    policy.apply(req, res);
    policy.apply(req, res);
    expect(res.getHeader('Vary')).toBe('Accept-Encoding, Origin');
    expect(res.getHeader('Access-Control-Allow-Origin')).toBe(APP);
  });
});

describe('isPreflight', () => {
  it.each([
    ['OPTIONS', { origin: APP, 'access-control-request-method': 'POST' }, true],
    ['OPTIONS', { origin: APP }, false], // tus discovery, or any plain OPTIONS
    ['OPTIONS', { 'access-control-request-method': 'POST' }, false],
    ['POST', { origin: APP, 'access-control-request-method': 'POST' }, false],
  ])('%s %j → %s', (method, headers, expected) => {
    expect(isPreflight(exchange(method, headers).req)).toBe(expected);
  });
});

describe('originInRawRequest', () => {
  it('finds the Origin of the header block, whatever its case and spacing', () => {
    expect(originInRawRequest(Buffer.from(`GET / HTTP/1.1\r\nHost: a\r\norIGin:  ${APP} \r\nX-Padding: ppp`))).toBe(
      APP,
    );
  });

  it('ignores a body and a packet without one', () => {
    expect(originInRawRequest(Buffer.from(`POST / HTTP/1.1\r\nHost: a\r\n\r\n\r\nOrigin: ${APP}\r\n`))).toBeUndefined();
    expect(originInRawRequest(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\nX-Padding: ppp'))).toBeUndefined();
    expect(originInRawRequest(undefined)).toBeUndefined();
  });
});

describe('docs/api.md, "Browsers (CORS)"', () => {
  it('lists the methods, the request headers, the exposed headers and the max age the code sends', () => {
    const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'api.md'), 'utf8');
    const section = (doc.split(/^(?=## )/m).find((text) => text.startsWith('## Browsers (CORS)')) ?? '').replace(
      /\s+/g,
      ' ',
    );
    expect(section).toContain(`Access-Control-Allow-Methods: ${CORS_ALLOWED_METHODS.join(', ')}`);
    expect(section).toContain(`Access-Control-Allow-Headers: ${CORS_ALLOWED_HEADERS.join(', ')}`);
    expect(section).toContain(`Access-Control-Expose-Headers: ${CORS_EXPOSED_HEADERS.join(', ')}`);
    expect(section).toContain(`Access-Control-Max-Age: ${CORS_MAX_AGE_SECONDS}`);
  });
});
