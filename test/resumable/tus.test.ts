import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Upload } from 'tus-js-client';
import { ResumableUploads } from '../../src/media/resumable/resumable-uploads';
import { SweeperService } from '../../src/media/sweeper.service';
import { startTestApp, type TestApp } from '../support/app';
import { CuttingProxy } from '../support/cutting-proxy';
import { query } from '../support/database';
import { request } from '../support/http';
import { waitFor } from '../support/wait';
import { makeZip } from '../support/zip';

const MB = 1024 * 1024;
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** Uploads `bytes` with tus-js-client (as a phone app would) and resolves with the upload URL and the Media-Id the completing PATCH answered. */
function tusUpload(
  endpoint: string,
  token: string,
  bytes: Buffer,
  options: { chunkSize?: number; uploadUrl?: string; stopAfterChunks?: number; metadata?: Record<string, string> } = {},
) {
  return new Promise<{ url: string; mediaId?: string; stopped?: boolean }>((resolve, reject) => {
    let chunks = 0;
    let mediaId: string | undefined;
    const upload: Upload = new Upload(bytes, {
      endpoint,
      // Only what is given: tus-js-client takes an explicit `undefined` over its defaults.
      ...(options.uploadUrl ? { uploadUrl: options.uploadUrl } : {}),
      ...(options.chunkSize ? { chunkSize: options.chunkSize } : {}),
      retryDelays: [0, 200, 500, 1000, 2000],
      headers: { Authorization: `Bearer ${token}` },
      metadata: options.metadata ?? { filename: 'file.zip' },
      onAfterResponse: (_req, res) => {
        mediaId = res.getHeader('Media-Id') ?? mediaId;
      },
      onChunkComplete: () => {
        chunks++;
        if (options.stopAfterChunks && chunks >= options.stopAfterChunks) {
          void upload.abort().then(() => resolve({ url: upload.url!, stopped: true }));
        }
      },
      onSuccess: () => resolve({ url: upload.url!, mediaId }),
      onError: reject,
    });
    upload.start();
  });
}

const tusHeaders = (token: string, extra: Record<string, string> = {}) => ({
  Authorization: `Bearer ${token}`,
  'Tus-Resumable': '1.0.0',
  ...extra,
});

describe('resumable uploads (tus 1.0)', () => {
  let t: TestApp;
  const dataDir = mkdtempSync(join(tmpdir(), 'media-test-tus-'));
  const env = {
    MAX_ARCHIVE_BYTES: String(80 * MB),
    UPLOAD_BYTES_PER_SECOND: String(1024 * MB),
    QUOTA_STORAGE_BYTES: String(1024 * MB),
  };
  beforeAll(async () => {
    t = await startTestApp({ dataDir, env });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const uploadsDir = () => join(t.dataDir, 'uploads');
  const uploadDirs = () => (existsSync(uploadsDir()) ? readdirSync(uploadsDir()) : []);

  it('a 50 MB upload cut twice mid-PATCH resumes from the server offset, and the stored file is the one sent', async () => {
    const proxy = await CuttingProxy.start(Number(new URL(t.url).port));
    try {
      const token = await t.token('traveller');
      const zip = makeZip([
        { name: 'a.bin', data: randomBytes(25 * MB) },
        { name: 'b.bin', data: randomBytes(25 * MB) },
      ]);
      proxy.cutAfter(7 * MB); // during the first PATCH
      // The second cut is armed once the first has happened and the upload goes on.
      proxy.onCut = () => proxy.cuts === 1 && proxy.cutAfter(9 * MB);
      const done = tusUpload(`${proxy.url}/api/v1/media/uploads`, token, zip);
      const { mediaId } = await done;
      expect(proxy.cuts).toBe(2);
      expect(mediaId).toMatch(/^[0-9a-f-]{36}$/);
      const meta = await request(`${t.url}/api/v1/media/${mediaId}/metadata`, { token });
      expect([meta.status, meta.json.size, meta.json.sha256, meta.json.mimeType]).toEqual([
        200,
        zip.length,
        sha256(zip),
        'application/zip',
      ]);
      const download = await request(`${t.url}/api/v1/media/${mediaId}`, { token });
      expect(sha256(download.body)).toBe(sha256(zip));
      // Digests taken as the PATCHes arrived (the cuts included): md5 too.
      const byMd5 = await request(`${t.url}/api/v1/media/hash-check`, {
        method: 'POST',
        token,
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ algorithm: 'md5', hash: createHash('md5').update(zip).digest('hex') }),
      });
      expect(byMd5.json).toEqual({ blocked: false, duplicateOf: mediaId });
    } finally {
      await proxy.close();
    }
    expect(t.tempFiles()).toEqual([]);
  });

  it('resumes across a restart of the service between two PATCHes (HEAD gives the durable offset)', async () => {
    const token = await t.token('restarter');
    const zip = makeZip([{ name: 'c.bin', data: randomBytes(12 * MB) }]);
    const first = await tusUpload(`${t.url}/api/v1/media/uploads`, token, zip, {
      chunkSize: 5 * MB,
      stopAfterChunks: 1,
    });
    expect(first.stopped).toBe(true);
    const url = new URL(first.url, t.url).toString();
    await t.close();
    // The paused upload's digest no longer holds the hash thread: nothing of the closed app keeps the process alive.
    await waitFor(() => !process.getActiveResourcesInfo().includes('MessagePort'));
    t = await startTestApp({ dataDir, databaseUrl: t.databaseUrl, env });
    const head = await fetch(url.replace(/^http:\/\/127\.0\.0\.1:\d+/, t.url), {
      method: 'HEAD',
      headers: tusHeaders(token),
    });
    expect([head.status, head.headers.get('upload-offset'), head.headers.get('upload-length')]).toEqual([
      200,
      String(5 * MB),
      String(zip.length),
    ]);
    const { mediaId } = await tusUpload(`${t.url}/api/v1/media/uploads`, token, zip, {
      chunkSize: 5 * MB,
      uploadUrl: url.replace(/^http:\/\/127\.0\.0\.1:\d+/, t.url),
    });
    const download = await request(`${t.url}/api/v1/media/${mediaId}`, { token });
    expect([download.status, sha256(download.body)]).toEqual([200, sha256(zip)]);
    // This process saw only the second PATCH: the digests come from one read of the sealed file.
    const meta = await request(`${t.url}/api/v1/media/${mediaId}/metadata`, { token });
    expect(meta.json.sha256).toBe(sha256(zip));
    const md5 = createHash('md5').update(zip).digest('hex');
    const byMd5 = await request(`${t.url}/api/v1/media/hash-check`, {
      method: 'POST',
      token,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ algorithm: 'md5', hash: md5 }),
    });
    expect(byMd5.json).toEqual({ blocked: false, duplicateOf: mediaId });
    const result = await request(url.replace(/^http:\/\/127\.0\.0\.1:\d+/, t.url), { token });
    expect([result.status, result.json.id]).toEqual([200, mediaId]);
  });

  it('OPTIONS tells the protocol: version, extensions, the largest size, the checksum algorithm', async () => {
    const reply = await fetch(`${t.url}/api/v1/media/uploads`, { method: 'OPTIONS' });
    expect([reply.status, reply.headers.get('tus-version'), reply.headers.get('tus-checksum-algorithm')]).toEqual([
      204,
      '1.0.0',
      'sha256',
    ]);
    expect(reply.headers.get('tus-extension')!.split(',').sort()).toEqual([
      'checksum',
      'creation',
      'creation-with-upload',
      'expiration',
      'termination',
    ]);
    expect(Number(reply.headers.get('tus-max-size'))).toBeGreaterThan(0);
  });

  it('a PATCH at the wrong offset is refused with 409 and changes nothing', async () => {
    const token = await t.token('offsets');
    const created = await fetch(`${t.url}/api/v1/media/uploads`, {
      method: 'POST',
      headers: tusHeaders(token, {
        'Upload-Length': '100000',
        'Upload-Metadata': `filename ${Buffer.from('n.txt').toString('base64')}`,
      }),
    });
    expect(created.status).toBe(201);
    const url = new URL(created.headers.get('location')!, t.url).toString();
    const wrong = await request(url, {
      method: 'PATCH',
      token,
      headers: tusHeaders(token, { 'Upload-Offset': '10', 'Content-Type': 'application/offset+octet-stream' }),
      body: Buffer.alloc(10, 'a'),
    });
    expect([wrong.status, wrong.json.code]).toEqual([409, 'VALIDATION_FAILED']);
    const head = await fetch(url, { method: 'HEAD', headers: tusHeaders(token) });
    expect(head.headers.get('upload-offset')).toBe('0');
    expect((await fetch(url, { method: 'DELETE', headers: tusHeaders(token) })).status).toBe(204);
  });

  it('an HTML file is refused at the first PATCH with 415, and nothing is left: no file, no reservation, no temp file', async () => {
    const token = await t.token('html-sender');
    const html = Buffer.from(`<!DOCTYPE html><html><body>${'<p>hello</p>'.repeat(2000)}</body></html>`);
    const created = await fetch(`${t.url}/api/v1/media/uploads`, {
      method: 'POST',
      headers: tusHeaders(token, { 'Upload-Length': String(html.length) }),
    });
    const id = created.headers.get('location')!.split('/').pop()!;
    expect(uploadDirs()).toContain(id);
    expect(await query(t.databaseUrl, "SELECT id FROM quota_reservations WHERE owner_id = 'html-sender'")).toHaveLength(
      1,
    );
    const patch = await request(new URL(created.headers.get('location')!, t.url).toString(), {
      method: 'PATCH',
      token,
      headers: tusHeaders(token, { 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' }),
      body: html,
    });
    expect([patch.status, patch.json.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    expect(uploadDirs()).not.toContain(id);
    expect(await query(t.databaseUrl, "SELECT id FROM quota_reservations WHERE owner_id = 'html-sender'")).toEqual([]);
    expect(t.tempFiles()).toEqual([]);
  });

  it("someone else's upload URL answers 404 to every method", async () => {
    const owner = await t.token('owner');
    const other = await t.token('intruder');
    const created = await fetch(`${t.url}/api/v1/media/uploads`, {
      method: 'POST',
      headers: tusHeaders(owner, { 'Upload-Length': '5000' }),
    });
    const url = new URL(created.headers.get('location')!, t.url).toString();
    for (const method of ['HEAD', 'PATCH', 'DELETE', 'GET']) {
      const reply = await fetch(url, {
        method,
        headers: tusHeaders(other, { 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' }),
        body: method === 'PATCH' ? 'x' : undefined,
      });
      expect([method, reply.status]).toEqual([method, 404]);
    }
    expect((await fetch(url, { method: 'HEAD', headers: tusHeaders(owner) })).status).toBe(200);
  });

  it('a PATCH whose Upload-Checksum does not match answers 460 and keeps nothing of it; a matching one is taken', async () => {
    const token = await t.token('checksums');
    const text = Buffer.from('a plain note, sent in two pieces\n'.repeat(300));
    const created = await fetch(`${t.url}/api/v1/media/uploads`, {
      method: 'POST',
      headers: tusHeaders(token, { 'Upload-Length': String(text.length) }),
    });
    const url = new URL(created.headers.get('location')!, t.url).toString();
    const patch = (body: Buffer, offset: number, digest: string) =>
      request(url, {
        method: 'PATCH',
        token,
        headers: tusHeaders(token, {
          'Upload-Offset': String(offset),
          'Content-Type': 'application/offset+octet-stream',
          'Upload-Checksum': `sha256 ${digest}`,
        }),
        body,
      });
    const half = text.subarray(0, 5000);
    const bad = await patch(half, 0, createHash('sha256').update('other').digest('base64'));
    expect([bad.status, bad.json.code]).toEqual([460, 'VALIDATION_FAILED']);
    expect((await fetch(url, { method: 'HEAD', headers: tusHeaders(token) })).headers.get('upload-offset')).toBe('0');
    expect((await patch(half, 0, createHash('sha256').update(half).digest('base64'))).status).toBe(204);
    const rest = text.subarray(5000);
    const last = await patch(rest, 5000, createHash('sha256').update(rest).digest('base64'));
    expect(last.status).toBe(204);
    const id = last.headers.get('media-id');
    expect(last.headers.get('media-status')).toBe('ready');
    const download = await request(`${t.url}/api/v1/media/${id}`, { token });
    expect(download.body.equals(text)).toBe(true);
  });

  it('the quota is checked at creation against Upload-Length (507), and an abandoned upload expires with its reservation', async () => {
    const token = await t.token('hoarder');
    const tooBig = await request(`${t.url}/api/v1/media/uploads`, {
      method: 'POST',
      headers: tusHeaders(token, { 'Upload-Length': String(1100 * MB) }),
    });
    expect([tooBig.status, tooBig.json.code]).toEqual([413, 'FILE_TOO_LARGE']);
    // 1 GiB of quota: the 15th creation of 70 MB cannot fit, before a byte of it is sent.
    const statuses: number[] = [];
    const held: string[] = [];
    for (let i = 0; i < 15; i++) {
      const reply = await request(`${t.url}/api/v1/media/uploads`, {
        method: 'POST',
        headers: tusHeaders(token, { 'Upload-Length': String(70 * MB) }),
      });
      statuses.push(reply.status);
      if (reply.status === 201) held.push(new URL(reply.headers.get('location')!, t.url).toString());
      else expect(reply.json.code).toBe('QUOTA_EXCEEDED');
    }
    expect(statuses).toEqual([...Array(14).fill(201), 507]);
    for (const url of held)
      expect((await fetch(url, { method: 'DELETE', headers: tusHeaders(token) })).status).toBe(204);
    const created = await fetch(`${t.url}/api/v1/media/uploads`, {
      method: 'POST',
      headers: tusHeaders(token, { 'Upload-Length': String(70 * MB) }),
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('upload-expires')).toBeTruthy();
    const id = created.headers.get('location')!.split('/').pop()!;
    // Its reservation is not a crashed upload's: untouched for an hour, the sweeper leaves it while the upload lives.
    await query(
      t.databaseUrl,
      "UPDATE quota_reservations SET updated_at = now() - interval '1 hour' WHERE owner_id = 'hoarder'",
    );
    await t.app.get(SweeperService).sweep(Date.now(), { blobs: false });
    expect(await query(t.databaseUrl, "SELECT id FROM quota_reservations WHERE owner_id = 'hoarder'")).toHaveLength(1);
    // As if TUS_UPLOAD_EXPIRY_SECONDS had passed since its last PATCH: the expiry sweep removes it.
    const infoPath = join(uploadsDir(), id, 'info.json');
    const info = JSON.parse(readFileSync(infoPath, 'utf8'));
    writeFileSync(infoPath, JSON.stringify({ ...info, touchedAt: Date.now() - 86_401_000 }));
    expect(await t.app.get(ResumableUploads).deleteExpired()).toBe(1);
    expect(uploadDirs()).not.toContain(id);
    expect(await query(t.databaseUrl, "SELECT id FROM quota_reservations WHERE owner_id = 'hoarder'")).toEqual([]);
    expect(
      (await fetch(new URL(created.headers.get('location')!, t.url), { method: 'HEAD', headers: tusHeaders(token) }))
        .status,
    ).toBe(404);
  });
});
