import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { open, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { loadConfig } from '../../src/config/load-config';
import { LocalBlobStore } from '../../src/storage/local-blob-store';
import { assertFreeSpace, freeBytes, isOutOfSpace } from '../../src/storage/out-of-space';
import { startTestApp, type TestApp } from '../support/app';
import { query } from '../support/database';
import { request, upload } from '../support/http';
import { textFile } from '../support/random';
import { waitFor } from '../support/wait';

const MB = 1024 * 1024;
const TMPFS_BYTES = 8 * MB;

/** Every file under `dir`, recursively. */
const filesUnder = (dir: string) =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));

/** ENOSPC for real: DATA_DIR on a small tmpfs mounted for the test (the tests run as root), with the database elsewhere. */
describe('the service disk full (a real 8 MiB tmpfs as DATA_DIR)', () => {
  const mountPoint = mkdtempSync(join(tmpdir(), 'media-test-full-'));
  let t: TestApp;
  beforeAll(async () => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_BYTES}`, 'tmpfs', mountPoint]);
    t = await startTestApp({
      dataDir: mountPoint,
      env: { STORAGE_MIN_FREE_BYTES: String(MB), QUOTA_DAILY_UPLOADS: '1000' },
    });
  });
  afterAll(async () => {
    await t?.close();
    execFileSync('umount', [mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  });

  it('answers 503 with Retry-After once an upload no longer fits, leaves nothing half-stored, and fails readiness until space is freed', async () => {
    const token = await t.token('filler');
    expect((await request(`${t.url}/health/ready`)).status).toBe(200);
    const created: string[] = [];
    let refused;
    for (let seed = 1; seed <= 20 && !refused; seed++) {
      const reply = await upload(t.url, token, {
        name: `fill-${seed}.txt`,
        bytes: textFile(seed, MB),
        type: 'text/plain',
      });
      if (reply.status === 201) created.push(reply.json.id);
      else refused = reply;
    }
    expect(created.length).toBeGreaterThan(2);
    expect(refused).toBeDefined();
    expect(refused!.status).toBe(503);
    expect(refused!.json).toEqual({
      statusCode: 503,
      code: 'DEPENDENCY_UNAVAILABLE',
      message: 'The server is out of storage space; try again later',
      requestId: expect.any(String),
    });
    expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThan(0);

    // Nothing half-stored: no temp file, no reservation, no blob but those of the media created, nothing staged.
    expect(t.tempFiles()).toEqual([]);
    expect(await query(t.databaseUrl, 'SELECT id FROM quota_reservations')).toEqual([]);
    const keys = await query<{ blob_key: string }>(
      t.databaseUrl,
      'SELECT blob_key FROM media UNION ALL SELECT blob_key FROM previews',
    );
    expect((await query(t.databaseUrl, 'SELECT id FROM media')).length).toBe(created.length);
    expect(filesUnder(join(mountPoint, 'storage')).sort()).toEqual(
      keys.map(({ blob_key }) => join(mountPoint, 'storage', ...blob_key.split('/'))).sort(),
    );
    expect(await query(t.databaseUrl, "SELECT used_bytes, file_count FROM usage WHERE owner_id = 'filler'")).toEqual([
      { used_bytes: String(created.length * MB), file_count: created.length },
    ]);

    // Below the floor (1 MiB): not ready, and only the failing dependency is named.
    expect(await freeBytes(mountPoint)).toBeLessThan(MB);
    const notReady = await request(`${t.url}/health/ready`);
    expect(notReady.status).toBe(503);
    expect(notReady.json.error).toEqual({ storage: { status: 'down' } });
    expect(notReady.json.details.database).toEqual({ status: 'up' });
    expect(notReady.body.toString()).not.toMatch(/STORAGE_MIN_FREE_BYTES|bytes free|media-test/);
    expect((await request(`${t.url}/health/live`)).status).toBe(200);

    // Space freed: ready again, and uploads are accepted.
    for (const id of created.slice(0, 3))
      expect((await request(`${t.url}/api/v1/media/${id}`, { method: 'DELETE', token })).status).toBe(204);
    await waitFor(async () => (await request(`${t.url}/health/ready`)).status === 200, 30_000);
    expect(
      (await upload(t.url, token, { name: 'after.txt', bytes: textFile(99, MB), type: 'text/plain' })).status,
    ).toBe(201);
  });
});

describe('STORAGE_MIN_FREE_BYTES', () => {
  it('defaults to 256 MiB; 0 is accepted (no check)', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'media-test-floor-'));
    try {
      expect(loadConfig({ DATA_DIR: dataDir }).storage.minFreeBytes).toBe(256 * MB);
      expect(loadConfig({ DATA_DIR: dataDir, STORAGE_MIN_FREE_BYTES: '0' }).storage.minFreeBytes).toBe(0);
      expect(() => loadConfig({ DATA_DIR: dataDir, STORAGE_MIN_FREE_BYTES: '-1' })).toThrow(/STORAGE_MIN_FREE_BYTES/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('fails readiness when the floor is above the free space, and is off at 0', async () => {
    const huge = String(2 ** 52); // 4 PiB: more than any disk here
    const strict = await startTestApp({ env: { STORAGE_MIN_FREE_BYTES: huge } });
    try {
      const ready = await request(`${strict.url}/health/ready`);
      expect(ready.status).toBe(503);
      expect(ready.json.error).toEqual({ storage: { status: 'down' } });
    } finally {
      await strict.close();
    }
    const off = await startTestApp({ env: { STORAGE_MIN_FREE_BYTES: '0' } });
    try {
      expect((await request(`${off.url}/health/ready`)).status).toBe(200);
    } finally {
      await off.close();
    }
    await expect(assertFreeSpace(tmpdir(), Number(huge))).rejects.toThrow(/below STORAGE_MIN_FREE_BYTES/);
    await expect(assertFreeSpace(tmpdir(), 0)).resolves.toBeUndefined();
  });
});

describe('isOutOfSpace', () => {
  it('is true for a real ENOSPC (writes to /dev/full), also as the cause of another error', async () => {
    const direct = await writeFile('/dev/full', Buffer.alloc(1024)).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(direct).toMatchObject({ code: 'ENOSPC' });
    expect(isOutOfSpace(direct)).toBe(true);
    const file = await open('/dev/full', 'w');
    const viaHandle = await file.write(Buffer.alloc(10)).then(
      () => undefined,
      (error: unknown) => error,
    );
    await file.close();
    expect(isOutOfSpace(viaHandle)).toBe(true);
    expect(isOutOfSpace(new Error('storing the preview failed', { cause: direct }))).toBe(true);
  });

  it('is true for EDQUOT and for tools that report it in words; false otherwise', () => {
    expect(isOutOfSpace(Object.assign(new Error('EDQUOT: disk quota exceeded, write'), { code: 'EDQUOT' }))).toBe(true);
    expect(isOutOfSpace(new Error('VipsForeignSave: write error: No space left on device'))).toBe(true);
    for (const error of [
      new Error('boom'),
      Object.assign(new Error('x'), { code: 'ENOENT' }),
      undefined,
      'No space left on device',
    ])
      expect(isOutOfSpace(error)).toBe(false);
  });

  it('a LocalBlobStore put on a full disk rejects with ENOSPC and leaves no staged file', async () => {
    const mountPoint = mkdtempSync(join(tmpdir(), 'media-test-full-store-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint]);
    try {
      const store = new LocalBlobStore(join(mountPoint, 'storage'));
      const error = await store.put('a/b/c', Readable.from([Buffer.alloc(2 * MB)])).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isOutOfSpace(error)).toBe(true);
      expect(filesUnder(mountPoint)).toEqual([]);
    } finally {
      execFileSync('umount', [mountPoint]);
      rmSync(mountPoint, { recursive: true, force: true });
    }
  });
});
