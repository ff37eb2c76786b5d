import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { query } from '../support/database';
import { startTestApp, type TestApp } from '../support/app';
import { fixture, request, upload, uploadFixture } from '../support/http';
import { below, seededRandom } from '../support/random';
import { makeZip } from '../support/zip';
import { waitFor } from '../support/wait';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('upload → encrypt → store → download', () => {
  let t: TestApp;
  let alice: string;
  let bob: string;
  let admin: string;
  beforeAll(async () => {
    t = await startTestApp();
    [alice, bob, admin] = await Promise.all([t.token('alice'), t.token('bob'), t.token('root', { roles: ['admin'] })]);
  });
  afterAll(() => t.close());
  afterEach(() => expect(t.tempFiles()).toEqual([]));

  // A PDF is stored without its Info dictionary and XMP (personal metadata): its stored version is what
  // size and sha256 describe; a ZIP is stored as uploaded.
  it.each([
    ['pdf-tables-gofpdf.pdf', 'document', 'application/pdf', 'attachment', false],
    ['zip-html-pages.zip', 'archive', 'application/zip', 'attachment', true],
  ])('%s uploads as %s and downloads as stored', async (name, type, mime, disposition, unchanged) => {
    const bytes = fixture(name);
    const created = await uploadFixture(t.url, alice, name);
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      ownerId: 'alice',
      type,
      status: 'ready',
      mimeType: mime,
      originalMimeType: mime,
      originalName: name,
      originalSize: bytes.length,
    });
    const download = await request(`${t.url}/api/v1/media/${created.json.id}`, { token: alice });
    expect(download.status).toBe(200);
    expect({ size: download.body.length, sha256: sha256(download.body) }).toEqual({
      size: created.json.size,
      sha256: created.json.sha256,
    });
    expect(download.body.equals(bytes)).toBe(unchanged);
    expect(download.headers.get('content-type')).toBe(mime);
    expect(download.headers.get('x-content-type-options')).toBe('nosniff');
    expect(download.headers.get('content-security-policy')).toBe("default-src 'none'; sandbox");
    expect(download.headers.get('content-disposition')).toMatch(
      new RegExp(`^${disposition}; filename="?${name.replace('.', '\\.')}"?(;|$)`),
    );
    expect(download.headers.get('etag')).toBe(`"${created.json.sha256}"`);
    expect(download.headers.get('accept-ranges')).toBe('bytes');
    expect(download.headers.get('x-request-id')).toBeTruthy();
  });

  it('stores only ciphertext: the blob on disk holds no run of the plaintext', async () => {
    const bytes = fixture('txt-utf8-demo.txt');
    const created = await uploadFixture(t.url, alice, 'txt-utf8-demo.txt');
    const [row] = await query(t.databaseUrl, 'SELECT blob_key FROM media WHERE id = $1', [created.json.id]);
    const blob = readFileSync(join(t.dataDir, 'storage', ...row.blob_key.split('/')));
    expect(blob.subarray(0, 4).toString()).toBe('WMSE');
    expect(blob.includes(bytes.subarray(100, 132))).toBe(false);
    expect(blob.length).toBe(bytes.length + 32 + 16);
    expect(created.json).toMatchObject({ type: 'document', mimeType: 'text/plain', metadata: { charset: 'utf-8' } });
    const download = await request(`${t.url}/api/v1/media/${created.json.id}`, { token: alice });
    expect(download.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(download.headers.get('content-disposition')).toMatch(/^attachment; /);
    expect(download.body.equals(bytes)).toBe(true);
  });

  it('serves single ranges as 206, suffix and open ranges, 416 when unsatisfiable, several ranges as 200', async () => {
    const { json } = await uploadFixture(t.url, alice, 'mp4-h264-aac.mp4');
    const url = `${t.url}/api/v1/media/${json.id}`;
    const bytes = (await request(url, { token: alice })).body; // the stored version
    expect(bytes.length).toBe(json.size);
    for (const [header, start, end] of [
      ['bytes=0-0', 0, 0],
      ['bytes=65535-65536', 65535, 65536],
      ['bytes=100000-', 100000, bytes.length - 1],
      ['bytes=-500', bytes.length - 500, bytes.length - 1],
      ['bytes=380000-999999999', 380000, bytes.length - 1],
    ] as const) {
      const reply = await request(url, { token: alice, headers: { Range: header } });
      expect(reply.status).toBe(206);
      expect(reply.headers.get('content-range')).toBe(`bytes ${start}-${end}/${bytes.length}`);
      expect(reply.body.equals(bytes.subarray(start, end + 1))).toBe(true);
    }
    const random = seededRandom(20261203);
    for (let i = 0; i < 25; i++) {
      const start = below(random, bytes.length);
      const end = start + below(random, Math.min(200_000, bytes.length - start));
      const reply = await request(url, { token: alice, headers: { Range: `bytes=${start}-${end}` } });
      expect(reply.status).toBe(206);
      expect(reply.body.equals(bytes.subarray(start, end + 1))).toBe(true);
    }
    const unsatisfiable = await request(url, { token: alice, headers: { Range: `bytes=${bytes.length}-` } });
    expect(unsatisfiable.status).toBe(416);
    expect(unsatisfiable.headers.get('content-range')).toBe(`bytes */${bytes.length}`);
    expect(unsatisfiable.json.code).toBe('RANGE_NOT_SATISFIABLE');
    const several = await request(url, { token: alice, headers: { Range: 'bytes=0-1,5-6' } });
    expect(several.status).toBe(200);
    expect(several.body.equals(bytes)).toBe(true);
    const stale = await request(url, { token: alice, headers: { Range: 'bytes=0-1', 'If-Range': '"other"' } });
    expect(stale.status).toBe(200);
    const head = await request(url, { method: 'HEAD', token: alice });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(bytes.length));
    expect(head.body.length).toBe(0);
    const cached = await request(url, { token: alice, headers: { 'If-None-Match': `"${sha256(bytes)}"` } });
    expect(cached.status).toBe(304);
    expect(cached.headers.get('etag')).toBe(`"${sha256(bytes)}"`);
    expect(cached.headers.get('cache-control')).toBe('private, no-cache');
  });

  it('answers 404 to another user, exactly as for a missing id; admins may read', async () => {
    const { json } = await uploadFixture(t.url, alice, 'pdf-tables-gofpdf.pdf');
    for (const path of ['', '/metadata']) {
      const other = await request(`${t.url}/api/v1/media/${json.id}${path}`, { token: bob });
      const missing = await request(`${t.url}/api/v1/media/00000000-0000-4000-8000-000000000000${path}`, {
        token: bob,
      });
      expect(other.status).toBe(404);
      expect({ ...other.json, requestId: 'x' }).toEqual({ ...missing.json, requestId: 'x' });
    }
    expect((await request(`${t.url}/api/v1/media/${json.id}`, { method: 'DELETE', token: bob })).status).toBe(404);
    const asAdmin = await request(`${t.url}/api/v1/media/${json.id}`, { token: admin });
    expect(asAdmin.status).toBe(200);
    expect(sha256(asAdmin.body)).toBe(json.sha256);
  });

  it('refuses a spoofed .jpg that is really HTML with 415 and keeps nothing', async () => {
    const before = await request(`${t.url}/api/v1/media/storage`, { token: bob });
    const reply = await upload(t.url, bob, {
      name: 'cat.jpg',
      type: 'image/jpeg',
      bytes: Buffer.from('<!DOCTYPE html><html><body><script>alert(1)</script></body></html>'),
    });
    expect(reply.status).toBe(415);
    expect(reply.json).toEqual({
      statusCode: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      message: expect.any(String),
      requestId: reply.headers.get('x-request-id'),
    });
    const after = await request(`${t.url}/api/v1/media/storage`, { token: bob });
    expect(after.json).toEqual(before.json);
    expect(await query(t.databaseUrl, "SELECT id FROM media WHERE owner_id = 'bob'")).toEqual([]);
    expect(await query(t.databaseUrl, "SELECT id FROM quota_reservations WHERE owner_id = 'bob'")).toEqual([]);
  });

  it('returns 200 with the existing media when the same user uploads identical bytes, counting nothing', async () => {
    const first = await uploadFixture(t.url, alice, 'rar-v4.rar');
    const usage = (await request(`${t.url}/api/v1/media/storage`, { token: alice })).json;
    const again = await upload(t.url, alice, { name: 'renamed.rar', bytes: fixture('rar-v4.rar') });
    expect(again.status).toBe(200);
    expect(again.json).toEqual(first.json);
    expect((await request(`${t.url}/api/v1/media/storage`, { token: alice })).json).toEqual(usage);
    const forBob = await uploadFixture(t.url, bob, 'rar-v4.rar');
    expect(forBob.status).toBe(201);
    expect(forBob.json.id).not.toBe(first.json.id);
  });

  it('stores parallel identical uploads of one user once, releasing every other reservation', async () => {
    const ivy = await t.token('ivy');
    const replies = await Promise.all(
      Array.from({ length: 3 }, () => uploadFixture(t.url, ivy, 'm4a-aac-from-mp4.m4a')),
    );
    expect(replies.map((r) => r.status).sort()).toEqual([200, 200, 201]);
    expect(new Set(replies.map((r) => r.json.id)).size).toBe(1);
    expect(await query(t.databaseUrl, "SELECT id FROM media WHERE owner_id = 'ivy'")).toHaveLength(1);
    expect(await query(t.databaseUrl, "SELECT id FROM quota_reservations WHERE owner_id = 'ivy'")).toEqual([]);
    const blobs = await query(t.databaseUrl, "SELECT count(*)::int AS n FROM data_keys WHERE owner_id = 'ivy'");
    expect(blobs).toEqual([{ n: 1 + 3 }]); // one stored file and its three waveform previews
    expect((await request(`${t.url}/api/v1/media/storage`, { token: ivy })).json).toMatchObject({
      fileCount: 1,
      uploadsToday: 1,
      usedBytes: fixture('m4a-aac-from-mp4.m4a').length,
    });
  });

  it('deletes media with its blob and usage; a second delete is 404', async () => {
    const carol = await t.token('carol');
    const { json } = await uploadFixture(t.url, carol, 'jpeg-exif-gps-nikon-d2h.jpg');
    const [row] = await query(t.databaseUrl, 'SELECT blob_key FROM media WHERE id = $1', [json.id]);
    expect((await request(`${t.url}/api/v1/media/storage`, { token: carol })).json).toMatchObject({
      usedBytes: json.size,
      fileCount: 1,
    });
    expect((await request(`${t.url}/api/v1/media/${json.id}`, { method: 'DELETE', token: carol })).status).toBe(204);
    expect((await request(`${t.url}/api/v1/media/${json.id}`, { method: 'DELETE', token: carol })).status).toBe(404);
    expect((await request(`${t.url}/api/v1/media/${json.id}`, { token: carol })).status).toBe(404);
    // The keys go with the row; the blob after, by the delete-blobs job.
    expect(await query(t.databaseUrl, 'SELECT id FROM data_keys WHERE owner_id = $1', ['carol'])).toEqual([]);
    await waitFor(() => !existsSync(join(t.dataDir, 'storage', ...row.blob_key.split('/'))), 60_000);
    const storage = (await request(`${t.url}/api/v1/media/storage`, { token: carol })).json;
    expect(storage).toMatchObject({ usedBytes: 0, fileCount: 0, uploadsToday: 1 });
  });

  it('reports metadata and storage per the contract', async () => {
    const dave = await t.token('dave');
    const image = await uploadFixture(t.url, dave, 'gif-animated-throbber.gif');
    const doc = await uploadFixture(t.url, dave, 'doc-word97.doc');
    const meta = await request(`${t.url}/api/v1/media/${image.json.id}/metadata`, { token: dave });
    expect(meta.status).toBe(200);
    expect(meta.json).toEqual(image.json);
    expect(new Date(meta.json.createdAt).toISOString()).toBe(meta.json.createdAt);
    const storage = await request(`${t.url}/api/v1/media/storage`, { token: dave });
    expect(storage.json).toEqual({
      usedBytes: image.json.size + doc.json.size,
      limitBytes: 1073741824,
      fileCount: 2,
      uploadsToday: 2,
      dailyUploadLimit: 100,
      byType: {
        image: { count: 1, bytes: image.json.size },
        video: { count: 0, bytes: 0 },
        audio: { count: 0, bytes: 0 },
        document: { count: 1, bytes: doc.json.size },
        archive: { count: 0, bytes: 0 },
      },
    });
  });

  it('answers 409 MEDIA_NOT_READY with Retry-After while media is processing; metadata stays readable', async () => {
    const hank = await t.token('hank');
    const { json } = await uploadFixture(t.url, hank, 'ogg-vorbis-complete.ogg');
    await query(t.databaseUrl, "UPDATE media SET status = 'processing' WHERE id = $1", [json.id]);
    const busy = await request(`${t.url}/api/v1/media/${json.id}`, { token: hank });
    expect(busy.status).toBe(409);
    expect(busy.json.code).toBe('MEDIA_NOT_READY');
    expect(Number(busy.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await request(`${t.url}/api/v1/media/${json.id}/metadata`, { token: hank })).json.status).toBe(
      'processing',
    );
  });

  it('sanitises the stored file name', async () => {
    const reply = await upload(t.url, alice, {
      name: '../../etc/\u202Egnp.exe',
      bytes: fixture('webp-lossy-alpha.webp'),
    });
    expect(reply.status).toBe(201);
    expect(reply.json.originalName).toBe('gnp.exe');
    const long = await upload(t.url, alice, {
      name: `${'é'.repeat(300)}.webp`,
      bytes: fixture('webp-lossy-alpha.webp'),
    });
    expect(long.status).toBe(200); // the same bytes again: the first name stays
    const longText = await upload(t.url, alice, {
      name: `${'n'.repeat(300)}.txt`,
      bytes: Buffer.from('a long name\n'),
    });
    expect(longText.json.originalName).toBe(`${'n'.repeat(196)}.txt`);
  });

  it('names a download with the extension of the stored type', async () => {
    const notes = await upload(t.url, alice, { name: 'notes.jpg', bytes: Buffer.from('shopping: milk, eggs\n') });
    expect(notes.json).toMatchObject({ mimeType: 'text/plain', originalName: 'notes.jpg' });
    const download = await request(`${t.url}/api/v1/media/${notes.json.id}`, { token: alice });
    expect(download.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(download.headers.get('content-disposition')).toBe('attachment; filename=notes.txt');
    const photo = await upload(t.url, alice, {
      name: 'holiday.JPEG',
      bytes: fixture('jpeg-exif-orientation6-panasonic-gf1.jpg'),
    });
    const served = await request(`${t.url}/api/v1/media/${photo.json.id}`, { method: 'HEAD', token: alice });
    expect(served.headers.get('content-disposition')).toMatch(/^inline; filename="?holiday\.JPEG"?$/);
  });

  it.each([
    ['no file part', (form: FormData) => form.append('note', 'hello')],
    ['a part with another name', (form: FormData) => form.append('upload', new Blob(['x']), 'a.txt')],
    [
      'two file parts',
      (form: FormData) => {
        form.append('file', new Blob(['aaa']), 'a.txt');
        form.append('file', new Blob(['bbb']), 'b.txt');
      },
    ],
    [
      'a file and an extra field',
      (form: FormData) => {
        form.append('file', new Blob(['aaa']), 'a.txt');
        form.append('note', 'x');
      },
    ],
    ['an empty file', (form: FormData) => form.append('file', new Blob([]), 'empty.txt')],
  ])('answers 400 VALIDATION_FAILED for %s, leaving nothing', async (_label, build) => {
    const form = new FormData();
    build(form);
    const reply = await request(`${t.url}/api/v1/media/upload`, {
      method: 'POST',
      body: form,
      token: await t.token('frank'),
    });
    expect(reply.status).toBe(400);
    expect(reply.json.code).toBe('VALIDATION_FAILED');
    expect(await query(t.databaseUrl, "SELECT id FROM media WHERE owner_id = 'frank'")).toEqual([]);
  });

  it('answers 400 for a body that is not multipart, or is cut short', async () => {
    const json = await request(`${t.url}/api/v1/media/upload`, {
      method: 'POST',
      body: '{}',
      headers: { 'Content-Type': 'application/json' },
      token: bob,
    });
    expect(json.status).toBe(400);
    const cut = await request(`${t.url}/api/v1/media/upload`, {
      method: 'POST',
      token: bob,
      headers: { 'Content-Type': 'multipart/form-data; boundary=XyZ' },
      body: '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhello there',
    });
    expect(cut.status).toBe(400);
    expect(cut.json.code).toBe('VALIDATION_FAILED');
  });

  it('decrypts only the segments a range needs: the end of a large file reads with every other segment broken', async () => {
    const size = 20 * 1024 * 1024 + 12345;
    const line = Buffer.from('the quick brown fox jumps over the lazy dog 0123456789\n');
    const bytes = Buffer.alloc(size);
    for (let at = 0; at < size; at += line.length) line.copy(bytes, at);
    const gina = await t.token('gina');
    const created = await upload(t.url, gina, { name: 'big.txt', bytes });
    expect(created.status).toBe(201);
    const [row] = await query(t.databaseUrl, 'SELECT blob_key FROM media WHERE id = $1', [created.json.id]);
    const path = join(t.dataDir, 'storage', ...row.blob_key.split('/'));
    const blob = readFileSync(path);
    const segments = Math.ceil(size / 65536);
    for (let i = 0; i < segments - 1; i++) blob[32 + i * (65536 + 16) + 5] ^= 0xff;
    writeFileSync(path, blob);
    const tail = await request(`${t.url}/api/v1/media/${created.json.id}`, {
      token: gina,
      headers: { Range: 'bytes=-1000' },
    });
    expect(tail.status).toBe(206);
    expect(tail.body.equals(bytes.subarray(size - 1000))).toBe(true);
    const start = await request(`${t.url}/api/v1/media/${created.json.id}`, {
      token: gina,
      headers: { Range: 'bytes=0-10' },
    });
    expect(start.status).toBe(500);
    // HEAD reads nothing of the blob: it answers even with the first segment broken.
    const head = await request(`${t.url}/api/v1/media/${created.json.id}`, { method: 'HEAD', token: gina });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(size));
  });

  it('aborts the download when a stored segment was tampered with, never sending its bytes', async () => {
    const erin = await t.token('erin');
    // A ZIP is stored as uploaded: 3 MB, so the tampered segment (20) lies past the first read.
    const { json } = await upload(t.url, erin, {
      name: 'big.zip',
      bytes: makeZip([{ name: 'noise.bin', data: randomBytes(3 * 1024 * 1024) }]),
    });
    const bytes = (await request(`${t.url}/api/v1/media/${json.id}`, { token: erin })).body; // before the tampering
    const [row] = await query(t.databaseUrl, 'SELECT blob_key FROM media WHERE id = $1', [json.id]);
    const path = join(t.dataDir, 'storage', ...row.blob_key.split('/'));
    const blob = readFileSync(path);
    blob[32 + 20 * (65536 + 16) + 100] ^= 0x01; // inside segment 20
    writeFileSync(path, blob);
    const response = await fetch(`${t.url}/api/v1/media/${json.id}`, { headers: { Authorization: `Bearer ${erin}` } });
    expect(response.status).toBe(200);
    const received: Buffer[] = [];
    const reader = response.body!.getReader();
    await expect(
      (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          received.push(Buffer.from(value));
        }
      })(),
    ).rejects.toThrow();
    const got = Buffer.concat(received);
    expect(got.length).toBeLessThanOrEqual(20 * 65536);
    expect(got.equals(bytes.subarray(0, got.length))).toBe(true);
    // A range inside an intact segment still works; one touching the tampered segment fails.
    const intact = await request(`${t.url}/api/v1/media/${json.id}`, { token: erin, headers: { Range: 'bytes=0-99' } });
    expect(intact.body.equals(bytes.subarray(0, 100))).toBe(true);
    const touched = await request(`${t.url}/api/v1/media/${json.id}`, {
      token: erin,
      headers: { Range: `bytes=${20 * 65536}-${20 * 65536 + 10}` },
    });
    expectUnreadable(touched);
  });

  it('answers a small file (one segment, opened whole in memory) and its ranges, and refuses it cleanly when its blob was tampered with', async () => {
    const hana = await t.token('hana');
    const text = Buffer.from('a small note, opened in one piece\n'.repeat(300)); // ≈ 10 KB: one segment
    const intact = await upload(t.url, hana, { name: 'note.txt', bytes: text });
    const whole = await request(`${t.url}/api/v1/media/${intact.json.id}`, { token: hana });
    expect(whole.status).toBe(200);
    expect(whole.body.equals(text)).toBe(true);
    expect(whole.headers.get('content-length')).toBe(String(text.length));
    const part = await request(`${t.url}/api/v1/media/${intact.json.id}`, {
      token: hana,
      headers: { Range: 'bytes=100-199' },
    });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-199/${text.length}`);
    expect(part.body.equals(text.subarray(100, 200))).toBe(true);

    // Tampered before its first read (a read keeps the authentic ciphertext in the cache).
    const { json } = await upload(t.url, hana, { name: 'other.txt', bytes: Buffer.concat([text, Buffer.from('!')]) });
    const [row] = await query(t.databaseUrl, 'SELECT blob_key FROM media WHERE id = $1', [json.id]);
    const path = join(t.dataDir, 'storage', ...row.blob_key.split('/'));
    const blob = readFileSync(path);
    blob[32 + 100] ^= 0x01;
    writeFileSync(path, blob);
    for (const headers of [{}, { Range: 'bytes=0-10' }] as Record<string, string>[]) {
      const refused = await request(`${t.url}/api/v1/media/${json.id}`, { token: hana, headers });
      expectUnreadable(refused);
    }
  });
});

/** A stored blob that fails authentication before its first byte: a bare 500 of the contract. */
function expectUnreadable(reply: { status: number; json: unknown }): void {
  expect(reply.status).toBe(500);
  expect(reply.json).toEqual({
    statusCode: 500,
    code: 'INTERNAL_ERROR',
    message: 'Internal error',
    requestId: expect.any(String),
  });
}
