import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';

export const FIXTURES = join(__dirname, '..', 'fixtures');

export function fixture(name: string): Buffer {
  return readFileSync(join(FIXTURES, name));
}

export interface Reply {
  status: number;
  headers: Headers;
  body: Buffer;
  json: any;
}

async function toReply(response: Response): Promise<Reply> {
  const body = Buffer.from(await response.arrayBuffer());
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, body, json };
}

/** A request not answered (body included) within this fails naming itself, before Jest's 180 s per test would. */
const ANSWER_WITHIN_MS = 150_000;

export async function request(url: string, init: RequestInit & { token?: string } = {}): Promise<Reply> {
  const headers = new Headers(init.headers);
  if (init.token) headers.set('Authorization', `Bearer ${init.token}`);
  const signal = init.signal ?? AbortSignal.timeout(ANSWER_WITHIN_MS);
  try {
    return await toReply(await fetch(url, { ...init, headers, signal }));
  } catch (error) {
    if (!init.signal && (error as Error).name === 'TimeoutError')
      throw new Error(`${init.method ?? 'GET'} ${url}: no answer within ${ANSWER_WITHIN_MS / 1000} s`, {
        cause: error,
      });
    throw error;
  }
}

/** POSTs one file part named `field` (default "file"). */
export async function upload(
  base: string,
  token: string,
  file: { name: string; bytes: Buffer; type?: string; field?: string; headers?: Record<string, string> },
): Promise<Reply> {
  const form = new FormData();
  form.append(
    file.field ?? 'file',
    new Blob([new Uint8Array(file.bytes)], { type: file.type ?? 'application/octet-stream' }),
    file.name,
  );
  return request(`${base}/api/v1/media/upload`, { method: 'POST', body: form, token, headers: file.headers });
}

export async function uploadFixture(base: string, token: string, name: string): Promise<Reply> {
  return upload(base, token, { name, bytes: fixture(name) });
}

/**
 * A multipart upload whose body stops after its first 100 bytes until `finish()`: an upload in
 * flight. `finish()` sends the rest and answers the reply (status 0: the connection was lost).
 */
export function stalledUpload(
  base: string,
  token: string,
  file: { name: string; bytes: Buffer; type?: string },
): { finish(): Promise<Reply> } {
  const boundary = 'stalled-boundary';
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.name}"\r\nContent-Type: ${file.type ?? 'application/octet-stream'}\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const url = new URL(`${base}/api/v1/media/upload`);
  let answer: (reply: Reply) => void;
  const answered = new Promise<Reply>((resolve) => (answer = resolve));
  const lost = (): Reply => ({ status: 0, headers: new Headers(), body: Buffer.alloc(0), json: undefined });
  const req = http.request(
    {
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: 'POST',
      headers: {
        Authorization: `Bearer ${token}`,
        'Content-Type': `multipart/form-data; boundary=${boundary}`,
        'Content-Length': head.length + file.bytes.length + tail.length,
      },
    },
    (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', () => answer(lost()));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        let json: unknown;
        try {
          json = JSON.parse(body.toString('utf8'));
        } catch {
          json = undefined;
        }
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers))
          if (typeof value === 'string') headers.set(name, value);
        answer({ status: res.statusCode!, headers, body, json });
      });
    },
  );
  req.on('error', () => answer(lost()));
  req.write(Buffer.concat([head, file.bytes.subarray(0, 100)]));
  return {
    finish: () => {
      if (!req.destroyed) req.end(Buffer.concat([file.bytes.subarray(100), tail]));
      return answered;
    },
  };
}
