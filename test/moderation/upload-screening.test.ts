/**
 * The content-safety stages of the upload pipeline, end to end over HTTP: a real clamd
 * with the repo's EICAR database, a real gRPC moderation-service stand-in, the blocklist.
 * A refused upload answers the contract's code, stores and counts nothing, and leaves an
 * incident (never its content).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { freePort } from '../../src/common/free-port';
import { startTestApp, type TestApp } from '../support/app';
import { type Clamd, startClamd } from '../support/clamd';
import { query } from '../support/database';
import { EICAR, pdfWith } from '../support/eicar';
import { request, upload, type Reply } from '../support/http';
import { ModerationServer } from '../support/moderation-server';
import { picture as generated } from '../support/pictures';
import { makeZip } from '../support/zip';
import { ffmpeg, lavfi } from '../support/ffmpeg';

jest.setTimeout(180_000);

/** A photo-like JPEG (generated shapes over a gradient), one per seed: recompressed copies stay near. */
const picture = async (seed: number) =>
  sharp(await generated(seed, 640, 480))
    .jpeg({ quality: 92 })
    .toBuffer();

async function nothingStored(t: TestApp, owner: string): Promise<void> {
  expect(await query(t.databaseUrl, 'SELECT id FROM media WHERE owner_id = $1', [owner])).toEqual([]);
  const [usage] = await query<{ used_bytes: string }>(
    t.databaseUrl,
    'SELECT used_bytes::text FROM usage WHERE owner_id = $1',
    [owner],
  );
  expect(usage?.used_bytes ?? '0').toBe('0');
  expect(await query(t.databaseUrl, 'SELECT id FROM quota_reservations WHERE owner_id = $1', [owner])).toEqual([]);
  expect(t.tempFiles()).toEqual([]);
}

const incidentsOf = (t: TestApp, owner: string) =>
  query<{
    kind: string;
    code: string;
    reason: string;
    sha256: string | null;
    request_id: string | null;
    details: Record<string, unknown>;
  }>(
    t.databaseUrl,
    'SELECT kind, code, reason, sha256, request_id, details FROM incidents WHERE owner_id = $1 ORDER BY created_at',
    [owner],
  );

function expectError(reply: Reply, status: number, code: string): void {
  expect({ status: reply.status, code: (reply.json as { code?: string })?.code }).toEqual({ status, code });
}

describe('antivirus: every upload streamed to a real clamd', () => {
  let clamd: Clamd;
  let t: TestApp;
  beforeAll(async () => {
    clamd = await startClamd();
    t = await startTestApp({ env: { CLAMAV_URL: clamd.url } });
  });
  afterAll(async () => {
    await t?.close();
    await clamd?.stop();
  });

  it.each([
    ['plain', 'eicar.txt', () => EICAR],
    [
      'inside a ZIP',
      'eicar.zip',
      () =>
        makeZip([
          { name: 'readme.txt', data: Buffer.from('hello') },
          { name: 'eicar.com', data: EICAR, deflate: true },
        ]),
    ],
    ['inside a PDF (deflated content stream)', 'eicar.pdf', () => pdfWith(EICAR, true)],
  ])('EICAR %s → 422 MALWARE_DETECTED, nothing stored, an incident kept', async (_how, name, make) => {
    const owner = `mal-${name}`;
    const reply = await upload(t.url, await t.token(owner), { name, bytes: make() });
    expectError(reply, 422, 'MALWARE_DETECTED');
    await nothingStored(t, owner);
    const [incident] = await incidentsOf(t, owner);
    expect(incident).toMatchObject({
      kind: 'malware',
      code: 'MALWARE_DETECTED',
      details: { signature: expect.stringContaining('EICAR') },
    });
    expect(incident.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(incident.request_id).toBe(reply.headers.get('x-request-id'));
  });

  it('a clean file passes, and the refusals are counted in /metrics', async () => {
    expect(
      (
        await upload(t.url, await t.token('clean'), {
          name: 'note.pdf',
          bytes: pdfWith(Buffer.from('BT /F1 12 Tf 20 100 Td (hello) Tj ET'), false),
        })
      ).status,
    ).toBe(201);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/media_upload_rejections_total\{reason="malware"\} 3/);
  });

  it('an encrypted ZIP entry cannot be scanned: refused, never reported clean', async () => {
    const reply = await upload(t.url, await t.token('enc'), {
      name: 'secret.zip',
      bytes: makeZip([{ name: 'a.txt', data: Buffer.from('x'.repeat(100)), encrypted: true }]),
    });
    expectError(reply, 422, 'MALWARE_DETECTED');
    await nothingStored(t, 'enc');
  });
});

describe('antivirus unreachable', () => {
  it('answers 503 DEPENDENCY_UNAVAILABLE with Retry-After and keeps nothing', async () => {
    const t = await startTestApp({ env: { CLAMAV_URL: `tcp://127.0.0.1:${await freePort()}` } });
    try {
      const reply = await upload(t.url, await t.token('nobody'), {
        name: 'a.txt',
        bytes: Buffer.from('hello world\n'),
      });
      expectError(reply, 503, 'DEPENDENCY_UNAVAILABLE');
      expect(Number(reply.headers.get('retry-after'))).toBeGreaterThan(0);
      await nothingStored(t, 'nobody');
    } finally {
      await t.close();
    }
  });
});

describe('moderation-service over gRPC', () => {
  let peer: ModerationServer;
  beforeAll(async () => {
    peer = await ModerationServer.start();
  });
  afterAll(() => peer.close());

  it('approve: stored; the peer saw the hashes and the image pHash; reject: 422 CONTENT_REJECTED and an incident', async () => {
    const t = await startTestApp({ env: { MODERATION_GRPC_URL: peer.url } });
    try {
      peer.approve();
      const image = await picture(1);
      const ok = await upload(t.url, await t.token('ann'), { name: 'a.jpg', bytes: image });
      expect(ok.status).toBe(201);
      const sent = peer.checks.at(-1)!;
      expect(sent).toMatchObject({
        ownerId: 'ann',
        mediaType: 'image',
        sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
        storedSha256: (ok.json as { sha256: string }).sha256,
      });
      expect(sent.phashes).toEqual([expect.stringMatching(/^[0-9a-f]{16}$/)]);

      peer.reject('nudity', [{ algorithm: 'sha256', hash: 'ab'.repeat(32) }]);
      const refused = await upload(t.url, await t.token('ben'), { name: 'b.jpg', bytes: await picture(2) });
      expectError(refused, 422, 'CONTENT_REJECTED');
      await nothingStored(t, 'ben');
      expect(await incidentsOf(t, 'ben')).toEqual([
        expect.objectContaining({ kind: 'moderation', code: 'CONTENT_REJECTED', reason: 'nudity' }),
      ]);
      // The hashes moderation-service asked to block are in the blocklist now.
      const [entry] = await query(
        t.databaseUrl,
        `SELECT source FROM blocklist_entries e JOIN blocklist_hashes h ON h.entry_id = e.id WHERE h.hash = $1`,
        ['ab'.repeat(32)],
      );
      expect(entry).toEqual({ source: 'moderation-service' });
    } finally {
      await t.close();
    }
  });

  it('hash-check asks moderation-service after the local blocklist; down → 503 in closed mode, the local answer in open mode', async () => {
    const listed = 'cd'.repeat(32);
    const other = 'ef'.repeat(32);
    peer.hashes.set(`sha256:${listed}`, { blocked: true, reason: 'known abuse' });
    const check = async (t: TestApp, hash: string) =>
      request(`${t.url}/api/v1/media/hash-check`, {
        method: 'POST',
        token: await t.token('ivy'),
        body: JSON.stringify({ algorithm: 'sha256', hash }),
        headers: { 'Content-Type': 'application/json' },
      });
    const up = await startTestApp({ env: { MODERATION_GRPC_URL: peer.url } });
    try {
      expect((await check(up, listed)).json).toEqual({ blocked: true, duplicateOf: null });
      expect((await check(up, other)).json).toEqual({ blocked: false, duplicateOf: null });
      expect(peer.lookups).toEqual(
        expect.arrayContaining([
          { algorithm: 'sha256', hash: listed },
          { algorithm: 'sha256', hash: other },
        ]),
      );
    } finally {
      await up.close();
    }
    const deadUrl = `127.0.0.1:${await freePort()}`;
    const closed = await startTestApp({ env: { MODERATION_GRPC_URL: deadUrl } });
    const open = await startTestApp({ env: { MODERATION_GRPC_URL: deadUrl, MODERATION_FAILURE_MODE: 'open' } });
    try {
      expectError(await check(closed, listed), 503, 'DEPENDENCY_UNAVAILABLE');
      expect((await check(open, listed)).json).toEqual({ blocked: false, duplicateOf: null });
    } finally {
      await Promise.all([closed.close(), open.close()]);
    }
  });

  it('down, closed mode (the default): 503 with Retry-After, nothing stored', async () => {
    const t = await startTestApp({ env: { MODERATION_GRPC_URL: `127.0.0.1:${await freePort()}` } });
    try {
      const reply = await upload(t.url, await t.token('cal'), { name: 'c.jpg', bytes: await picture(3) });
      expectError(reply, 503, 'DEPENDENCY_UNAVAILABLE');
      expect(Number(reply.headers.get('retry-after'))).toBeGreaterThan(0);
      await nothingStored(t, 'cal');
    } finally {
      await t.close();
    }
  });

  it('down, open mode: accepted and recorded for later review', async () => {
    const t = await startTestApp({
      env: { MODERATION_GRPC_URL: `127.0.0.1:${await freePort()}`, MODERATION_FAILURE_MODE: 'open' },
    });
    try {
      const reply = await upload(t.url, await t.token('dee'), { name: 'd.jpg', bytes: await picture(4) });
      expect(reply.status).toBe(201);
      const [row] = await query(t.databaseUrl, 'SELECT needs_review, review_reason FROM media WHERE id = $1', [
        (reply.json as { id: string }).id,
      ]);
      expect(row).toEqual({
        needs_review: true,
        review_reason: expect.stringContaining('moderation-service unavailable'),
      });
      expect(await incidentsOf(t, 'dee')).toEqual([expect.objectContaining({ kind: 'review' })]);
    } finally {
      await t.close();
    }
  });
});

describe('blocklist at upload time', () => {
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    t = await startTestApp();
    admin = await t.token('root', { roles: ['moderator'] });
  });
  afterAll(() => t.close());

  const block = (body: object) =>
    request(`${t.url}/api/v1/admin/blocklist`, {
      method: 'POST',
      token: admin,
      body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json' },
    });

  it('a blocked image and a resized, recompressed copy of it are both refused; other pictures pass', async () => {
    const original = await picture(10);
    const first = await upload(t.url, await t.token('eve'), { name: 'x.jpg', bytes: original });
    expect(first.status).toBe(201);
    expect((await block({ mediaId: (first.json as { id: string }).id, reason: 'reported' })).status).toBe(201);

    const copy = await sharp(original).resize(480).jpeg({ quality: 45 }).toBuffer();
    for (const [name, bytes] of [
      ['same.jpg', original],
      ['copy.jpg', copy],
    ] as const) {
      const reply = await upload(t.url, await t.token('fay'), { name, bytes });
      expectError(reply, 422, 'CONTENT_REJECTED');
    }
    await nothingStored(t, 'fay');
    expect((await incidentsOf(t, 'fay')).map((i) => i.kind)).toEqual(['blocklist', 'blocklist']);
    expect((await upload(t.url, await t.token('fay'), { name: 'other.jpg', bytes: await picture(11) })).status).toBe(
      201,
    );
  });

  it('an exact sha256 entry refuses those bytes before any decoder sees them', async () => {
    const bytes = Buffer.from('a text nobody may send\n');
    const { createHash } = await import('node:crypto');
    expect(
      (await block({ algorithm: 'sha256', hash: createHash('sha256').update(bytes).digest('hex'), reason: 'spam' }))
        .status,
    ).toBe(201);
    expectError(await upload(t.url, await t.token('gus'), { name: 'spam.txt', bytes }), 422, 'CONTENT_REJECTED');
    await nothingStored(t, 'gus');
  });

  it('a video is stored with the pHashes of four keyframes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyframes-'));
    try {
      const path = join(dir, 'clip.mp4');
      ffmpeg(...lavfi('testsrc2=size=320x240:rate=10:duration=4'), '-pix_fmt', 'yuv420p', '-c:v', 'libx264', path);
      const reply = await upload(t.url, await t.token('hal'), { name: 'clip.mp4', bytes: readFileSync(path) });
      expect(reply.status).toBe(201);
      const [row] = await query<{ phashes: string[] }>(
        t.databaseUrl,
        'SELECT phashes::text[] AS phashes FROM media WHERE id = $1',
        [(reply.json as { id: string }).id],
      );
      expect(row.phashes).toHaveLength(4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
