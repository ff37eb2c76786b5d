import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ERRORS } from '../../src/errors';
import { startTestApp, type TestApp } from '../support/app';
import { request, uploadFixture } from '../support/http';

const ROOT = join(__dirname, '..', '..');
const REDOCLY = join(ROOT, 'node_modules', '@redocly', 'cli', 'bin', 'cli.js');

type Json = Record<string, any>;
const DOWNLOAD = '/api/v1/media/{id}';
const PREVIEW = '/api/v1/media/{id}/preview';
const ERROR_DTO = '#/components/schemas/ErrorDto';
const operations = (doc: Json) =>
  Object.entries(doc.paths as Json).flatMap(([path, item]) =>
    Object.entries(item as Json).map(([method, operation]) => ({ path, method, operation: operation as Json })),
  );
const responses = (doc: Json) =>
  operations(doc).flatMap(({ path, method, operation }) =>
    Object.entries(operation.responses as Json).map(([status, response]) => ({
      path,
      method,
      status,
      response: response as Json,
    })),
  );
/** ErrorDto, or ErrorDto narrowed to the codes of one answer (ApiErrors in src/http/openapi.ts). */
const isJsonError = (response: Json) => {
  const schema = response.content?.['application/json']?.schema;
  return schema?.$ref === ERROR_DTO || schema?.allOf?.[0]?.$ref === ERROR_DTO;
};
/** The codes an error answer declares (GET's, for a HEAD answer, which has no body). */
const codesOf = (response: Json): string[] =>
  response.content?.['application/json']?.schema?.allOf?.[1]?.properties?.code?.enum ?? [];

/** `redocly lint` (recommended rules, plus redocly.yaml's reasoned exceptions) on the document the service serves. */
async function lint(doc: Json): Promise<{ totals: { errors: number; warnings: number }; problems: Json[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'media-openapi-'));
  try {
    const file = join(dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(doc));
    const env = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' };
    const args = [REDOCLY, 'lint', file, '--config', join(ROOT, 'redocly.yaml'), '--format=json'];
    // redocly exits 1 when it finds errors; its JSON report is on stdout either way.
    const { stdout } = await promisify(execFile)(process.execPath, args, { env, cwd: dir }).catch((error) => error);
    return JSON.parse(stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the OpenAPI document (/api/docs-json)', () => {
  let app: TestApp;
  let doc: Json;
  beforeAll(async () => {
    app = await startTestApp();
    doc = (await request(`${app.url}/api/docs-json`)).json;
  });
  afterAll(() => app.close());

  it('passes redocly lint with no error and no warning', async () => {
    const report = await lint(doc);
    expect(
      report.problems.map((problem) => `${problem.ruleId}: ${problem.message} at ${problem.location?.[0]?.pointer}`),
    ).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
  });

  it('declares health and metrics public, and a bearer token everywhere under /api/v1', () => {
    expect(doc.security).toEqual([{ bearer: [] }]);
    for (const { path, method, operation } of operations(doc)) {
      if (path.startsWith('/api/v1/'))
        expect([method, path, operation.security ?? doc.security]).toEqual([method, path, [{ bearer: [] }]]);
      else expect([method, path, operation.security]).toEqual([method, path, []]);
    }
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/health/live', '/health/ready', '/metrics']));
  });

  it('describes /metrics as Prometheus text', () => {
    expect(doc.paths['/metrics'].get.responses['200'].content).toHaveProperty('text/plain');
  });

  it.each([DOWNLOAD, PREVIEW])('describes HEAD on %s, with the statuses and headers of GET and no body', (path) => {
    const { get, head } = doc.paths[path];
    expect(head).toBeDefined();
    expect(Object.keys(head.responses)).toEqual(Object.keys(get.responses));
    for (const [status, response] of Object.entries(head.responses as Json)) {
      expect([status, response.content]).toEqual([status, undefined]);
      expect(response.headers).toEqual(get.responses[status].headers);
    }
    expect(head.parameters).toEqual(get.parameters);
    expect(head.operationId).not.toBe(get.operationId);
  });

  it('gives every response a description', () => {
    const bare = responses(doc).filter(
      ({ response }) => typeof response.description !== 'string' || !/^\s*[^\s(]/.test(response.description),
    );
    expect(bare.map(({ method, path, status }) => `${method} ${path} ${status}`)).toEqual([]);
  });

  it('points nowhere outside the repository', () => {
    expect(JSON.stringify(doc)).not.toMatch(/shared\/|CONTRACT|DESIGN/);
  });

  it('names the codes of every error answer, each of that status', () => {
    const errors = responses(doc).filter(({ status, method }) => Number(status) >= 400 && method !== 'head');
    // Every error answer is an error body, but the health checks' 503 (Terminus's body).
    const others = errors
      .filter(({ response }) => !isJsonError(response))
      .map(({ method, path, status }) => `${method} ${path} ${status}`);
    expect(others).toEqual(['get /health/live 503', 'get /health/ready 503']);
    for (const { path, method, status, response } of errors.filter(({ response }) => isJsonError(response))) {
      const codes = codesOf(response);
      expect([method, path, status, codes.length > 0]).toEqual([method, path, status, true]);
      // Statuses that carry a code of another (VALIDATION_FAILED, 400): the HTTP parser's refusal (431), and
      // those tus fixes on its routes (409 offset, 460 checksum).
      const borrowed =
        status === '431' || (path.startsWith('/api/v1/media/uploads') && ['409', '460'].includes(status));
      const expected = borrowed ? 400 : Number(status);
      for (const code of codes)
        expect([method, path, code, ERRORS[code as keyof typeof ERRORS]?.status]).toEqual([
          method,
          path,
          code,
          expected,
        ]);
      expect([method, path, status, Object.keys(response.content['application/json'].examples ?? {})]).toEqual([
        method,
        path,
        status,
        codes,
      ]);
    }
    const upload = doc.paths['/api/v1/media/upload'].post.responses;
    expect(codesOf(upload['422'])).toEqual(
      expect.arrayContaining(['CORRUPT_FILE', 'CONTENT_REJECTED', 'MALWARE_DETECTED']),
    );
    expect(codesOf(upload['429'])).toEqual(
      expect.arrayContaining(['RATE_LIMITED', 'DAILY_UPLOAD_LIMIT', 'TOO_MANY_CONCURRENT_UPLOADS']),
    );
  });

  it('declares 431 (headers too large, VALIDATION_FAILED) and 500 on every operation', () => {
    for (const { path, method, operation } of operations(doc)) {
      expect([method, path, Object.keys(operation.responses)]).toEqual([
        method,
        path,
        expect.arrayContaining(['431', '500']),
      ]);
      if (method !== 'head')
        expect([method, path, codesOf(operation.responses['431'])]).toEqual([method, path, ['VALIDATION_FAILED']]);
    }
  });

  it('describes the metadata of each media type', () => {
    const { schemas } = doc.components;
    const refs = schemas.MediaDto.properties.metadata.anyOf.map((schema: Json) =>
      schema.$ref.replace('#/components/schemas/', ''),
    );
    const keys = Object.fromEntries(refs.map((name: string) => [name, Object.keys(schemas[name].properties)]));
    expect(keys).toEqual({
      ImageMetadataDto: expect.arrayContaining([
        'width',
        'height',
        'format',
        'hasAlpha',
        'animated',
        'frames',
        'orientationApplied',
        'thumbhash',
        'camera',
        'takenAt',
      ]),
      VideoMetadataDto: expect.arrayContaining([
        'durationMs',
        'width',
        'height',
        'fps',
        'codecs',
        'bitrate',
        'hasAudio',
        'compliant',
        'original',
      ]),
      AudioMetadataDto: expect.arrayContaining([
        'durationMs',
        'codec',
        'bitrate',
        'channels',
        'sampleRate',
        'peaks',
        'original',
      ]),
      DocumentMetadataDto: expect.arrayContaining(['pages', 'characters', 'lines', 'charset']),
      ArchiveMetadataDto: expect.arrayContaining([
        'entries',
        'uncompressedBytes',
        'encryptedEntries',
        'nestedArchives',
      ]),
    });
  });

  it('is what docs/api.md describes: every route, its statuses and codes, and every error code', () => {
    const md = readFileSync(join(ROOT, 'docs', 'api.md'), 'utf8');
    // The text under each heading, up to the next heading.
    const sections = md.split(/^(?=#{1,6} )/m);
    const section = (heading: string) => sections.find((text) => text.split('\n')[0].includes(heading));
    const everyRoute = section('Answers on every route') ?? '';
    const names = (text: string, word: string) => new RegExp(`(^|[^\\w])${word}([^\\w]|$)`).test(text);
    const missing: string[] = [];
    for (const { path, method, operation } of operations(doc)) {
      const route = `${method.toUpperCase()} ${path}`;
      const text = section(`\`${route}\``);
      if (!text) {
        missing.push(`${route}: no heading`);
        continue;
      }
      const get = doc.paths[path].get?.responses ?? {};
      for (const [status, response] of Object.entries(operation.responses as Json)) {
        for (const word of [status, ...codesOf(method === 'head' ? get[status] : response)]) {
          if (!names(text, word) && !(names(everyRoute, status) && names(everyRoute, word)))
            missing.push(`${route} ${status}: ${word}`);
        }
      }
    }
    for (const code of Object.keys(ERRORS)) if (!names(md, code)) missing.push(code);
    expect(missing).toEqual([]);
  });

  it('describes Range, If-None-Match (304) and If-Range on the download', () => {
    const { get } = doc.paths[DOWNLOAD];
    const headers = get.parameters
      .filter((parameter: Json) => parameter.in === 'header')
      .map((parameter: Json) => parameter.name);
    expect(headers).toEqual(expect.arrayContaining(['Range', 'If-None-Match', 'If-Range']));
    expect(Object.keys(get.responses)).toEqual(expect.arrayContaining(['200', '206', '304', '416']));
    expect(get.responses['416'].headers).toHaveProperty('Content-Range');
  });

  it('declares download errors as JSON error bodies and the file itself as bytes', () => {
    const { get } = doc.paths[DOWNLOAD];
    for (const [status, response] of Object.entries(get.responses as Json)) {
      if (Number(status) >= 400) expect([status, isJsonError(response)]).toEqual([status, true]);
      else expect([status, response.content?.['application/json']]).toEqual([status, undefined]);
    }
    expect(get.responses['200'].content['*/*'].schema).toEqual({ type: 'string', format: 'binary' });
    expect(doc.paths[PREVIEW].get.responses['200'].content).toEqual({
      'image/webp': { schema: { type: 'string', format: 'binary' } },
    });
  });

  it('declares 503 DEPENDENCY_UNAVAILABLE with Retry-After, and at least one 4xx, on every /api/v1 operation', () => {
    for (const { path, method, operation } of operations(doc).filter(({ path }) => path.startsWith('/api/v1/'))) {
      const unavailable = operation.responses['503'];
      expect([
        method,
        path,
        unavailable && method !== 'head' ? isJsonError(unavailable) : Boolean(unavailable),
      ]).toEqual([method, path, true]);
      expect([method, path, Object.keys(unavailable.headers)]).toEqual([
        method,
        path,
        expect.arrayContaining(['Retry-After', 'X-Request-Id']),
      ]);
      expect([method, path, Object.keys(operation.responses).some((status) => status.startsWith('4'))]).toEqual([
        method,
        path,
        true,
      ]);
    }
    expect(doc.components.schemas.ErrorDto.properties.code.enum).toEqual(
      expect.arrayContaining(['DEPENDENCY_UNAVAILABLE', 'RANGE_NOT_SATISFIABLE']),
    );
  });

  it('matches what the download really answers: statuses, headers and JSON errors', async () => {
    const token = await app.token('openapi-alice');
    const { id } = (await uploadFixture(app.url, token, 'png-rgba-alpha-yellow-rose.png')).json;
    const url = `${app.url}/api/v1/media/${id}`;
    const whole = await request(url, { token });
    const etag = whole.headers.get('etag')!;
    const answers = [
      ['get', whole],
      ['head', await request(url, { token, method: 'HEAD' })],
      ['get', await request(url, { token, headers: { Range: 'bytes=0-9' } })],
      ['get', await request(url, { token, headers: { Range: 'bytes=0-9', 'If-Range': '"stale"' } })],
      ['get', await request(url, { token, headers: { 'If-None-Match': etag } })],
      ['head', await request(url, { token, method: 'HEAD', headers: { 'If-None-Match': etag } })],
      ['get', await request(url, { token, headers: { Range: 'bytes=999999999-' } })],
      ['get', await request(`${app.url}/api/v1/media/00000000-0000-4000-8000-000000000000`, { token })],
    ] as const;
    expect(answers.map(([, reply]) => reply.status)).toEqual([200, 200, 206, 200, 304, 304, 416, 404]);
    for (const [method, reply] of answers) {
      const declared = doc.paths[DOWNLOAD][method].responses[String(reply.status)];
      expect([method, reply.status, declared !== undefined]).toEqual([method, reply.status, true]);
      const missing = Object.keys(declared.headers ?? {}).filter((name) => !reply.headers.has(name));
      expect([method, reply.status, missing]).toEqual([method, reply.status, []]);
      if (reply.status >= 400) expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
    }
  });

  it('matches what the preview really answers: WebP, HEAD, 304 and JSON errors', async () => {
    const token = await app.token('openapi-bob');
    const { id } = (await uploadFixture(app.url, token, 'png-rgba-alpha-yellow-rose.png')).json;
    const url = `${app.url}/api/v1/media/${id}/preview?size=64`;
    const whole = await request(url, { token });
    const etag = whole.headers.get('etag')!;
    const answers = [
      ['get', whole],
      ['head', await request(url, { token, method: 'HEAD' })],
      ['get', await request(url, { token, headers: { Range: 'bytes=0-9' } })],
      ['get', await request(url, { token, headers: { 'If-None-Match': etag } })],
      ['head', await request(url, { token, method: 'HEAD', headers: { 'If-None-Match': etag } })],
      ['get', await request(`${app.url}/api/v1/media/${id}/preview?size=100`, { token })],
    ] as const;
    expect(answers.map(([, reply]) => reply.status)).toEqual([200, 200, 206, 304, 304, 400]);
    expect(whole.headers.get('content-type')).toBe('image/webp');
    for (const [method, reply] of answers) {
      const declared = doc.paths[PREVIEW][method].responses[String(reply.status)];
      expect([method, reply.status, declared !== undefined]).toEqual([method, reply.status, true]);
      const missing = Object.keys(declared.headers ?? {}).filter((name) => !reply.headers.has(name));
      expect([method, reply.status, missing]).toEqual([method, reply.status, []]);
      if (reply.status >= 400) expect(reply.json.code).toBe(codesOf(doc.paths[PREVIEW].get.responses['400'])[0]);
    }
  });
});
