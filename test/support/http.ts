import { readFileSync } from 'node:fs';
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

export async function request(url: string, init: RequestInit & { token?: string } = {}): Promise<Reply> {
  const headers = new Headers(init.headers);
  if (init.token) headers.set('Authorization', `Bearer ${init.token}`);
  return toReply(await fetch(url, { ...init, headers }));
}

/** POSTs one file part named `field` (default "file"). */
export async function upload(
  base: string,
  token: string,
  file: { name: string; bytes: Buffer; type?: string; field?: string },
): Promise<Reply> {
  const form = new FormData();
  form.append(file.field ?? 'file', new Blob([new Uint8Array(file.bytes)], { type: file.type ?? 'application/octet-stream' }), file.name);
  return request(`${base}/api/v1/media/upload`, { method: 'POST', body: form, token });
}

export async function uploadFixture(base: string, token: string, name: string): Promise<Reply> {
  return upload(base, token, { name, bytes: fixture(name) });
}
