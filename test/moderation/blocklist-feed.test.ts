import { randomUUID } from 'node:crypto';
import { ChangeFeed } from '../../src/db/change-feed';
import { BlocklistService } from '../../src/moderation/blocklist.service';
import { toHex } from '../../src/moderation/phash';
import { startTestApp, type TestApp } from '../support/app';
import { createTestDatabase, query } from '../support/database';
import { request, upload } from '../support/http';
import { below, seededRandom } from '../support/random';
import { waitFor } from '../support/wait';
import { digest, flipBits, picture } from '../support/pictures';

const hex = (random: () => number, digits: number) =>
  Array.from({ length: digits }, () => below(random, 16).toString(16)).join('');

/** Inserts `count` entries of one hash each, by SQL, as another replica or an operator would. */
async function insertEntries(url: string, rows: { algorithm: string; hash: string }[]): Promise<string[]> {
  const ids = rows.map(() => randomUUID());
  await query(
    url,
    `WITH e AS (INSERT INTO blocklist_entries (id, reason, source) SELECT unnest($1::uuid[]), 'seeded', 'moderation-service')
     INSERT INTO blocklist_hashes (entry_id, algorithm, hash) SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[])`,
    [ids, rows.map((r) => r.algorithm), rows.map((r) => r.hash)],
  );
  return ids;
}

describe('the blocklist index of each replica', () => {
  it('loads every entry from PostgreSQL at start-up, across pages', async () => {
    const databaseUrl = await createTestDatabase();
    const random = seededRandom(7);
    const rows = Array.from({ length: 12_000 }, (_, i) => {
      const algorithm = (['sha256', 'md5', 'phash'] as const)[i % 3];
      return { algorithm, hash: hex(random, { sha256: 64, md5: 32, phash: 16 }[algorithm]) };
    });
    const ids = await insertEntries(databaseUrl, rows);
    const t = await startTestApp({ databaseUrl });
    try {
      const token = await t.token('carol');
      const check = async (algorithm: string, hash: string) =>
        (
          await request(`${t.url}/api/v1/media/hash-check`, {
            method: 'POST',
            token,
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ algorithm, hash }),
          })
        ).json;
      for (const i of [0, 1, 2, 4999, 5000, 5001, 11_998, 11_999]) {
        expect([i, await check(rows[i].algorithm, rows[i].hash)]).toEqual([i, { blocked: true, duplicateOf: null }]);
      }
      expect(await check('phash', toHex(flipBits(BigInt(`0x${rows[2].hash}`), 2)))).toEqual({
        blocked: true,
        duplicateOf: null,
      });
      expect(await check('sha256', 'ab'.repeat(32))).toEqual({ blocked: false, duplicateOf: null });
      const match = t.app.get(BlocklistService).match({ sha256: [rows[0].hash], md5: [], phashes: [] });
      expect(match).toEqual({
        entryId: ids[0],
        reason: 'seeded',
        algorithm: 'sha256',
        hash: rows[0].hash,
        distance: 0,
      });
    } finally {
      await t.close();
    }
  });

  describe('two instances on one database', () => {
    let first: TestApp;
    let second: TestApp;
    let admin: string;
    let alice: string;
    beforeAll(async () => {
      first = await startTestApp();
      second = await startTestApp({ databaseUrl: first.databaseUrl });
      [admin, alice] = await Promise.all([first.token('root', { roles: ['admin'] }), first.token('alice')]);
    });
    afterAll(async () => {
      await second.close();
      await first.close();
    });
    const post = (app: TestApp, path: string, token: string, body: unknown) =>
      request(`${app.url}/api/v1/${path}`, {
        method: 'POST',
        token,
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
    const blocked = async (app: TestApp, algorithm: string, hash: string) =>
      (await post(app, 'media/hash-check', alice, { algorithm, hash })).json.blocked;

    it("sees an entry added or removed through the other within a second, and the other's quarantine", async () => {
      const bytes = await picture(201);
      const media = (await upload(second.url, alice, { name: 'p.png', bytes })).json;
      expect((await request(`${second.url}/api/v1/media/${media.id}/metadata`, { token: alice })).status).toBe(200); // now in second's cache
      const sha256 = digest('sha256', bytes);
      expect(await blocked(second, 'sha256', sha256)).toBe(false);

      const created = await post(first, 'admin/blocklist', admin, { mediaId: media.id, reason: 'via the first' });
      expect(created.json.quarantined).toBe(1);
      await waitFor(() => blocked(second, 'sha256', sha256), 1000);
      await waitFor(
        async () => (await request(`${second.url}/api/v1/media/${media.id}/metadata`, { token: alice })).status === 404,
        1000,
      );

      expect(
        (await request(`${first.url}/api/v1/admin/blocklist/${created.json.id}`, { method: 'DELETE', token: admin }))
          .status,
      ).toBe(204);
      await waitFor(async () => !(await blocked(second, 'sha256', sha256)), 1000);
      await waitFor(
        async () => (await request(`${second.url}/api/v1/media/${media.id}/metadata`, { token: alice })).status === 200,
        1000,
      );
    });

    it('sees entries written by SQL, and an entry whose hashes change', async () => {
      const [id] = await insertEntries(first.databaseUrl, [{ algorithm: 'md5', hash: 'cd'.repeat(16) }]);
      await waitFor(
        async () => (await blocked(first, 'md5', 'cd'.repeat(16))) && (await blocked(second, 'md5', 'cd'.repeat(16))),
        1000,
      );
      await query(
        first.databaseUrl,
        "INSERT INTO blocklist_hashes (entry_id, algorithm, hash) VALUES ($1, 'phash', '00000000ffffffff')",
        [id],
      );
      await waitFor(() => blocked(second, 'phash', '00000000fffffff0'), 1000);
      await query(first.databaseUrl, "DELETE FROM blocklist_hashes WHERE entry_id = $1 AND algorithm = 'md5'", [id]);
      await waitFor(async () => !(await blocked(second, 'md5', 'cd'.repeat(16))), 1000);
      expect(await blocked(second, 'phash', '00000000ffffffff')).toBe(true);
    });

    it('reloads everything after its change feed reconnects (changes made meanwhile were not heard)', async () => {
      await query(
        first.databaseUrl,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'media-service changes' AND datname = current_database()",
      );
      await waitFor(() => !first.app.get(ChangeFeed).live && !second.app.get(ChangeFeed).live, 1000);
      // Not heard by anyone: the feeds come back after a second, and only their reset brings it in.
      await insertEntries(first.databaseUrl, [{ algorithm: 'sha256', hash: 'ef'.repeat(32) }]);
      await waitFor(
        async () =>
          (await blocked(first, 'sha256', 'ef'.repeat(32))) && (await blocked(second, 'sha256', 'ef'.repeat(32))),
        5000,
      );
    });
  });
});
