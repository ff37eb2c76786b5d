import { randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import { startTestApp, type TestApp } from '../support/app';
import { makeZip } from '../support/zip';

const KB = 1024;
const MB = 1024 * KB;
const ELF = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.alloc(MB)]);
const zip = (size: number) => makeZip([{ name: 'noise.bin', data: randomBytes(size) }]);

interface Outcome {
  status?: number;
  code?: string;
  connection?: string | null;
  /** The transport error, when there was no answer. */
  error?: string;
}

/** One request by Node's fetch on its default keep-alive agent, as every client keeps connections; a transport error is returned, not thrown. */
async function send(url: string, init: RequestInit): Promise<Outcome> {
  try {
    const reply = await fetch(url, init);
    const body = (await reply.json().catch(() => ({}))) as { code?: string };
    return { status: reply.status, code: body.code, connection: reply.headers.get('connection') };
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return { error: cause?.code ?? cause?.message ?? String(error) };
  }
}

function form(bytes: Buffer, name: string, field = 'file'): FormData {
  const body = new FormData();
  body.append(field, new Blob([new Uint8Array(bytes)]), name);
  return body;
}

describe('keep-alive clients after an early answer', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      env: {
        UPLOAD_CONCURRENCY_PER_USER: '3',
        UPLOAD_BYTES_PER_SECOND: String(4 * MB),
        MAX_ARCHIVE_BYTES: String(3 * MB),
        MAX_DOCUMENT_BYTES: String(3 * MB),
        QUOTA_STORAGE_BYTES: String(400 * MB),
      },
    });
  });
  afterAll(() => t.close());

  const upload = async (token: string | undefined, body: FormData | string, headers: Record<string, string> = {}) =>
    send(`${t.url}/api/v1/media/upload`, {
      method: 'POST',
      body,
      headers: { ...headers, ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    });

  it('answers every early status with Connection: close, and the next request on the same client gets its answer', async () => {
    const full = await t.token('keepalive-full');
    const fullQuota = await startTestApp({
      databaseUrl: t.databaseUrl,
      env: { QUOTA_STORAGE_BYTES: String(512 * KB), MAX_DOCUMENT_BYTES: String(3 * MB) },
    });
    try {
      const cases: { label: string; expected: [number, string]; go: () => Promise<Outcome> }[] = [
        { label: 'no token', expected: [401, 'UNAUTHORIZED'], go: () => upload(undefined, form(zip(MB), 'a.zip')) },
        {
          label: 'larger than every limit',
          expected: [413, 'FILE_TOO_LARGE'],
          go: async () => upload(await t.token('ka-413'), form(zip(4 * MB), 'a.zip')),
        },
        {
          label: 'unsupported bytes',
          expected: [415, 'UNSUPPORTED_MEDIA_TYPE'],
          go: async () => upload(await t.token('ka-415'), form(ELF, 'a.bin')),
        },
        {
          label: 'over quota',
          expected: [507, 'QUOTA_EXCEEDED'],
          go: () =>
            send(`${fullQuota.url}/api/v1/media/upload`, {
              method: 'POST',
              body: form(zip(MB), 'a.zip'),
              headers: { Authorization: `Bearer ${full}` },
            }),
        },
        {
          label: 'a field before the file',
          expected: [400, 'VALIDATION_FAILED'],
          go: async () => {
            const body = new FormData();
            body.append('caption', 'x'.repeat(300 * KB));
            body.append('file', new Blob([new Uint8Array(zip(MB))]), 'a.zip');
            return upload(await t.token('ka-400a'), body);
          },
        },
        {
          label: 'a second part name',
          expected: [400, 'VALIDATION_FAILED'],
          go: async () => upload(await t.token('ka-400b'), form(zip(MB), 'a.zip', 'attachment')),
        },
        {
          label: 'not multipart',
          expected: [400, 'VALIDATION_FAILED'],
          go: async () =>
            upload(await t.token('ka-400c'), JSON.stringify({ file: 'x'.repeat(MB) }), {
              'Content-Type': 'application/json',
            }),
        },
      ];
      for (const { label, expected, go } of cases) {
        for (let i = 0; i < 5; i++) {
          const outcome = await go();
          expect({ label, ...outcome }).toEqual({ label, status: expected[0], code: expected[1], connection: 'close' });
          const after = await send(`${t.url}/health/live`, {});
          expect({ label, status: after.status, error: after.error }).toEqual({ label, status: 200, error: undefined });
        }
      }
    } finally {
      await fullQuota.close();
    }
  });

  it('has no transport error in 100 rounds of 8 parallel uploads by one user, where the concurrency limit refuses 5 of 8', async () => {
    const token = await t.token('keepalive-rounds');
    const files = Array.from({ length: 8 }, () => zip(256 * KB));
    const seen: Record<string, number> = {};
    for (let round = 0; round < 100; round++) {
      const outcomes = await Promise.all(files.map((bytes, i) => upload(token, form(bytes, `r${round}-${i}.zip`))));
      for (const outcome of outcomes) {
        const key = outcome.error ?? String(outcome.status);
        seen[key] = (seen[key] ?? 0) + 1;
      }
    }
    expect(Object.keys(seen).filter((key) => !/^\d+$/.test(key))).toEqual([]);
    expect(seen['429']).toBeGreaterThan(0);
    expect((seen['201'] ?? 0) + (seen['200'] ?? 0)).toBeGreaterThan(0);
  }, 600_000);

  it('keeps an idle connection open longer than it tells clients to reuse it', async () => {
    const agent = new Agent({ keepAlive: true });
    const headers = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const req = require('node:http').get(
        `${t.url}/health/live`,
        { agent },
        (res: import('node:http').IncomingMessage) => {
          res.resume();
          res.on('end', () => resolve(res.headers));
        },
      );
      req.on('error', reject);
    });
    agent.destroy();
    const advertised = Number(/timeout=(\d+)/.exec(String(headers['keep-alive']))?.[1]);
    expect(headers.connection).toBe('keep-alive');
    // Clients reuse a connection for the advertised time; the server must not close it first.
    expect(t.app.getHttpServer().keepAliveTimeout).toBeGreaterThanOrEqual((advertised + 5) * 1000);
  });
});
