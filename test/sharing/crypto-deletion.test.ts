import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DataKeyService } from '../../src/crypto/data-key.service';
import { EncryptedBlobs } from '../../src/media/encrypted-blobs';
import { ORPHAN_GRACE_MS, SweeperService } from '../../src/media/sweeper.service';
import { startTestApp, type TestApp } from '../support/app';
import { query } from '../support/database';
import { fixture, request, upload } from '../support/http';
import { waitFor } from '../support/wait';

interface StoredRef {
  blob_key: string;
  data_key_id: string;
  size: string;
}

/** The original's and the previews' blob keys, data key ids and sizes. */
const refsOf = (t: TestApp, id: string) =>
  query<StoredRef>(
    t.databaseUrl,
    'SELECT blob_key, data_key_id, size::text FROM media WHERE id = $1 UNION ALL SELECT blob_key, data_key_id, bytes::text FROM previews WHERE media_id = $1',
    [id],
  );

describe('cryptographic deletion', () => {
  let t: TestApp;
  let replica: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    // A second replica on the same database and storage, as in Kubernetes.
    replica = await startTestApp({ databaseUrl: t.databaseUrl, dataDir: t.dataDir });
  });
  afterAll(async () => {
    await replica?.close();
    await t?.close();
  });

  it('blobs copied aside and put back after a delete cannot be decrypted by any route, role, job, replica or key rotation', async () => {
    const alice = await t.token('alice');
    const admin = await t.token('root', { roles: ['admin'] });
    const sent = await upload(t.url, alice, { name: 'tables.pdf', bytes: fixture('pdf-tables-gofpdf.pdf') });
    expect(sent.status).toBe(201);
    const id = sent.json.id;
    const refs = await refsOf(t, id);
    expect(refs.length).toBe(4); // the PDF and three previews
    // Both replicas have read it: each holds its unwrapped data keys in memory.
    expect((await request(`${t.url}/api/v1/media/${id}`, { token: alice })).status).toBe(200);
    expect((await request(`${replica.url}/api/v1/media/${id}/preview?size=64`, { token: alice })).status).toBe(200);
    expect((await request(`${replica.url}/api/v1/media/${id}`, { token: alice })).status).toBe(200);
    // ... and the replica holds the small preview's ciphertext in its cache.
    const cachedBlobs = (app: TestApp) =>
      (app.app.get(EncryptedBlobs) as unknown as { smallBlobs: Map<string, Buffer> }).smallBlobs;
    const previewKeys = refs.slice(1).map((ref) => ref.blob_key);
    expect(previewKeys.some((key) => cachedBlobs(replica).has(key))).toBe(true);

    const aside = mkdtempSync(join(tmpdir(), 'media-test-aside-'));
    try {
      const path = (root: string, key: string) => join(root, key);
      for (const ref of refs) {
        mkdirSync(dirname(path(aside, ref.blob_key)), { recursive: true });
        copyFileSync(path(join(t.dataDir, 'storage'), ref.blob_key), path(aside, ref.blob_key));
      }
      expect((await request(`${t.url}/api/v1/media/${id}`, { method: 'DELETE', token: alice })).status).toBe(204);

      // The keys are gone from the database in the deleting transaction, and from every process's memory.
      const keyIds = refs.map((ref) => ref.data_key_id);
      expect(
        await query(t.databaseUrl, 'SELECT count(*)::int AS n FROM data_keys WHERE id = ANY($1::uuid[])', [keyIds]),
      ).toEqual([{ n: 0 }]);
      for (const app of [t, replica]) {
        const keys = app.app.get(DataKeyService);
        await waitFor(async () =>
          (
            await Promise.all(
              keyIds.map((k) =>
                keys.open(k).then(
                  () => false,
                  () => true,
                ),
              ),
            )
          ).every(Boolean),
        );
      }
      // Every replica drops its cached ciphertext of the media's blobs (told by the change feed).
      await waitFor(() => previewKeys.every((key) => !cachedBlobs(replica).has(key) && !cachedBlobs(t).has(key)));
      await waitFor(() => refs.every((ref) => !existsSync(path(join(t.dataDir, 'storage'), ref.blob_key))), 60_000);

      // Put the blobs back, as a storage backup restored by hand would.
      for (const ref of refs) {
        mkdirSync(dirname(path(join(t.dataDir, 'storage'), ref.blob_key)), { recursive: true });
        copyFileSync(path(aside, ref.blob_key), path(join(t.dataDir, 'storage'), ref.blob_key));
      }
      for (const [app, token] of [
        [t, alice],
        [replica, alice],
        [t, admin],
        [replica, admin],
      ] as const) {
        for (const suffix of ['', '/metadata', '/preview?size=64', '/preview?size=512']) {
          expect([suffix, (await request(`${app.url}/api/v1/media/${id}${suffix}`, { token })).status]).toEqual([
            suffix,
            404,
          ]);
        }
      }
      // Nothing in the service can open them any more, even knowing their keys' ids: not after a key rotation either.
      await t.app.get(DataKeyService).rotateAll();
      for (const app of [t, replica]) {
        for (const ref of refs) {
          const opened = app.app
            .get(EncryptedBlobs)
            .read({ blobKey: ref.blob_key, dataKeyId: ref.data_key_id, size: Number(ref.size) });
          await expect(opened).rejects.toThrow(/data key missing/);
        }
      }
      // And the sweeper removes blobs whose row (and key) is gone, once past the grace period of uploads in flight.
      await t.app.get(SweeperService).sweep(Date.now() + ORPHAN_GRACE_MS + 60_000);
      expect(refs.filter((ref) => existsSync(path(join(t.dataDir, 'storage'), ref.blob_key)))).toEqual([]);
    } finally {
      rmSync(aside, { recursive: true, force: true });
    }
  });
});
