import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startTestApp, type TestApp } from '../support/app';
import { request, uploadFixture } from '../support/http';

const ROOT = join(__dirname, '..', '..');
const REDOCLY = join(ROOT, 'node_modules', '@redocly', 'cli', 'bin', 'cli.js');

type Json = Record<string, any>;
const DOWNLOAD = '/api/v1/media/{id}';
const operations = (doc: Json) =>
  Object.entries(doc.paths as Json).flatMap(([path, item]) => Object.entries(item as Json).map(([method, operation]) => ({ path, method, operation: operation as Json })));
const isJsonError = (response: Json) => response.content?.['application/json']?.schema?.$ref === '#/components/schemas/ErrorDto';

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
    expect(report.problems.map((problem) => `${problem.ruleId}: ${problem.message} at ${problem.location?.[0]?.pointer}`)).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
  });

  it('declares health and metrics public, and a bearer token everywhere under /api/v1', () => {
    expect(doc.security).toEqual([{ bearer: [] }]);
    for (const { path, method, operation } of operations(doc)) {
      if (path.startsWith('/api/v1/')) expect([method, path, operation.security ?? doc.security]).toEqual([method, path, [{ bearer: [] }]]);
      else expect([method, path, operation.security]).toEqual([method, path, []]);
    }
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/health/live', '/health/ready', '/metrics']));
  });

  it('describes /metrics as Prometheus text', () => {
    expect(doc.paths['/metrics'].get.responses['200'].content).toHaveProperty('text/plain');
  });

  it('describes HEAD on the download, with the statuses and headers of GET and no body', () => {
    const { get, head } = doc.paths[DOWNLOAD];
    expect(head).toBeDefined();
    expect(Object.keys(head.responses)).toEqual(Object.keys(get.responses));
    for (const [status, response] of Object.entries(head.responses as Json)) {
      expect([status, response.content]).toEqual([status, undefined]);
      expect(response.headers).toEqual(get.responses[status].headers);
    }
    expect(head.parameters).toEqual(get.parameters);
    expect(head.operationId).not.toBe(get.operationId);
  });

  it('describes Range, If-None-Match (304) and If-Range on the download', () => {
    const { get } = doc.paths[DOWNLOAD];
    const headers = get.parameters.filter((parameter: Json) => parameter.in === 'header').map((parameter: Json) => parameter.name);
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
  });

  it('declares 503 DEPENDENCY_UNAVAILABLE with Retry-After, and at least one 4xx, on every /api/v1 operation', () => {
    for (const { path, method, operation } of operations(doc).filter(({ path }) => path.startsWith('/api/v1/'))) {
      const unavailable = operation.responses['503'];
      expect([method, path, unavailable && method !== 'head' ? isJsonError(unavailable) : Boolean(unavailable)]).toEqual([method, path, true]);
      expect([method, path, Object.keys(unavailable.headers)]).toEqual([method, path, expect.arrayContaining(['Retry-After', 'X-Request-Id'])]);
      expect([method, path, Object.keys(operation.responses).some((status) => status.startsWith('4'))]).toEqual([method, path, true]);
    }
    expect(doc.components.schemas.ErrorDto.properties.code.enum).toEqual(expect.arrayContaining(['DEPENDENCY_UNAVAILABLE', 'RANGE_NOT_SATISFIABLE']));
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
});
