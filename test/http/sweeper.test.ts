import { spawn } from 'node:child_process';
import { mkdirSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { newBlobKey } from '../../src/storage/blob-keys';
import { BLOB_STORE, type BlobStore } from '../../src/storage/blob-store';
import { SweeperService } from '../../src/media/sweeper.service';
import { startTestApp, type TestApp } from '../support/app';
import { query } from '../support/database';
import { request, uploadFixture } from '../support/http';
import { waitFor } from '../support/wait';

const HOURS_AGO = (h: number) => new Date(Date.now() - h * 3600_000);

describe('sweeper', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('removes what a crash leaves behind and nothing else', async () => {
    const token = await t.token('sam');
    const kept = await uploadFixture(t.url, token, 'webp-lossy-alpha.webp');
    const [row] = await query(t.databaseUrl, 'SELECT blob_key FROM media WHERE id = $1', [kept.json.id]);
    const pathOf = (key: string) => join(t.dataDir, 'storage', ...key.split('/'));
    utimesSync(pathOf(row.blob_key), HOURS_AGO(2), HOURS_AGO(2));

    const store = t.app.get<BlobStore>(BLOB_STORE);
    const orphan = newBlobKey();
    const fresh = newBlobKey();
    await store.put(orphan, Readable.from([Buffer.from('left by a crash')]));
    await store.put(fresh, Readable.from([Buffer.from('upload about to commit')]));
    utimesSync(pathOf(orphan), HOURS_AGO(2), HOURS_AGO(2));

    const deadDir = join(t.dataDir, 'tmp', `${hostname()}_999999_1_deadbeef`);
    mkdirSync(deadDir);
    writeFileSync(join(deadDir, 'partial-upload'), 'half a file');
    const staleDir = join(t.dataDir, 'tmp', 'another-host_12_1_cafe0000');
    mkdirSync(staleDir);
    utimesSync(staleDir, HOURS_AGO(1), HOURS_AGO(1));

    await query(
      t.databaseUrl,
      `INSERT INTO quota_reservations (id, owner_id, bytes, created_at, updated_at)
      VALUES (gen_random_uuid(), 'sam', 5000000, now() - interval '1 hour', now() - interval '1 hour'),
             (gen_random_uuid(), 'sam', 1000, now(), now())`,
    );
    await query(
      t.databaseUrl,
      `INSERT INTO quota_reservations (id, owner_id, bytes, process_tag) VALUES (gen_random_uuid(), 'sam', 700, $1)`,
      [`${hostname()}_999999_1_deadbeef`],
    );

    const report = await t.app.get(SweeperService).sweep();
    expect(report).toEqual({ tempDirs: 2, blobs: 1, reservations: 2, jobs: 0 });
    expect(existsSync(pathOf(orphan))).toBe(false);
    expect(existsSync(pathOf(fresh))).toBe(true);
    expect(existsSync(pathOf(row.blob_key))).toBe(true);
    expect(existsSync(deadDir)).toBe(false);
    expect(existsSync(staleDir)).toBe(false);
    expect(existsSync(join(t.dataDir, 'tmp'))).toBe(true);
    expect(await query(t.databaseUrl, "SELECT bytes FROM quota_reservations WHERE owner_id = 'sam'")).toEqual([
      { bytes: '1000' },
    ]);
    expect((await request(`${t.url}/api/v1/media/${kept.json.id}`, { token })).status).toBe(200);
  });

  it('releases the reservations of a process that is gone even when it left no temp dir (stopped while the database was down)', async () => {
    const gone = `${hostname()}_999997_1_ab12cd34`;
    const alive = `${hostname()}_${process.pid}_x_live0000`;
    await query(
      t.databaseUrl,
      `INSERT INTO quota_reservations (id, owner_id, bytes, process_tag) VALUES (gen_random_uuid(), 'ruth', 900, $1), (gen_random_uuid(), 'ruth', 800, $2)`,
      [gone, alive],
    );
    const report = await t.app.get(SweeperService).sweep();
    expect(report.reservations).toBe(1);
    expect(
      await query(t.databaseUrl, "SELECT bytes, process_tag FROM quota_reservations WHERE owner_id = 'ruth'"),
    ).toEqual([{ bytes: '800', process_tag: alive }]);
    await query(t.databaseUrl, "DELETE FROM quota_reservations WHERE owner_id = 'ruth'");
  });

  it("kills a dead process's orphaned tools (FFmpeg in its temp dir, its detached LibreOffice) and removes their directories", async () => {
    const deadTag = `${hostname()}_999998_1_0dd0dd00`;
    const tempDir = join(t.dataDir, 'tmp', deadTag);
    const officeDir = join(t.dataDir, 'libreoffice', deadTag);
    mkdirSync(tempDir, { recursive: true });
    mkdirSync(officeDir, { recursive: true });
    // Stand-ins for the orphans: long-lived processes whose command lines name those directories.
    const sleeper = (arg: string) =>
      spawn(process.execPath, ['-e', 'setTimeout(() => {}, 300000)', '--', arg], { stdio: 'ignore' });
    const orphans = [join(tempDir, 'input.avi'), `-env:UserInstallation=file://${officeDir}`].map(sleeper);
    const bystander = sleeper(join(t.dataDir, 'tmp', 'unrelated'));
    try {
      await t.app.get(SweeperService).sweep();
      await waitFor(() => orphans.every((child) => child.exitCode !== null || child.signalCode !== null), 5000);
      expect(orphans.map((child) => child.signalCode)).toEqual(['SIGKILL', 'SIGKILL']);
      expect(bystander.exitCode === null && bystander.signalCode === null).toBe(true);
      expect(existsSync(tempDir)).toBe(false);
      expect(existsSync(officeDir)).toBe(false);
    } finally {
      for (const child of [...orphans, bystander]) child.kill('SIGKILL');
    }
  });
});
