import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestApp, type TestApp } from '../support/app';
import { query } from '../support/database';
import { request, upload } from '../support/http';
import { MediaGrpcClient, status } from '../support/media-grpc';
import { picture } from '../support/pictures';
import { waitFor } from '../support/wait';

/** Whether any blob of the media (original or preview) is still in the app's local storage. */
async function blobsLeft(t: TestApp, blobKeys: string[]): Promise<boolean> {
  return blobKeys.some((key) => existsSync(join(t.dataDir, 'storage', key)));
}

async function blobKeysOf(databaseUrl: string, id: string): Promise<string[]> {
  const rows = await query<{ blob_key: string }>(
    databaseUrl,
    'SELECT blob_key FROM media WHERE id = $1 UNION ALL SELECT blob_key FROM previews WHERE media_id = $1',
    [id],
  );
  return rows.map((row) => row.blob_key);
}

const mediaRows = async (databaseUrl: string, id: string) =>
  (await query(databaseUrl, 'SELECT 1 FROM media WHERE id = $1', [id])).length;

describe('disappearing media (expiresIn, SetExpiry)', () => {
  it('an upload with expiresIn=30 reads until its expiresAt, 404 from then on, and is deleted within 60 s more — also when the service was stopped over the expiry', async () => {
    const running = await startTestApp();
    const restartDir = mkdtempSync(join(tmpdir(), 'media-test-restart-')); // kept over the stop
    const stopped = await startTestApp({ dataDir: restartDir });
    let restarted: TestApp | undefined;
    try {
      const [alice, bob] = [await running.token('alice'), await stopped.token('bob')];
      const bytes = await picture(31);
      expect((await upload(running.url, alice, { name: 'x.png', bytes })).status).toBe(201); // a permanent copy of the same bytes
      const sent = await request(`${running.url}/api/v1/media/upload?expiresIn=30`, {
        method: 'POST',
        body: form(bytes),
        token: alice,
      });
      const other = await request(`${stopped.url}/api/v1/media/upload?expiresIn=30`, {
        method: 'POST',
        body: form(await picture(32)),
        token: bob,
      });
      // Never a duplicate of the permanent copy: a disappearing message's file gets its own media and expiry.
      expect([sent.status, other.status]).toEqual([201, 201]);
      const expiresAt = Date.parse(sent.json.expiresAt);
      expect(expiresAt - Date.parse(sent.json.createdAt)).toBeGreaterThanOrEqual(29_000);
      expect(expiresAt - Date.parse(sent.json.createdAt)).toBeLessThanOrEqual(31_000);
      const keys = await blobKeysOf(running.databaseUrl, sent.json.id);
      const otherKeys = await blobKeysOf(stopped.databaseUrl, other.json.id);
      expect((await request(`${running.url}/api/v1/media/${sent.json.id}`, { token: alice })).status).toBe(200);
      const before = (await request(`${running.url}/api/v1/media/storage`, { token: alice })).json;

      await stopped.close(); // over the expiry: nothing of it runs
      await waitFor(() => Date.now() >= Date.parse(other.json.expiresAt) && Date.now() >= expiresAt, 60_000);
      for (const path of ['', '/metadata', '/preview']) {
        const reply = await request(`${running.url}/api/v1/media/${sent.json.id}${path}`, { token: alice });
        expect([path, reply.status, reply.json.code]).toEqual([path, 404, 'NOT_FOUND']);
      }
      // hash-check's duplicateOf never names an expired media (the permanent copy of the same bytes it does).
      const checked = await request(`${running.url}/api/v1/media/hash-check`, {
        method: 'POST',
        token: alice,
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ algorithm: 'sha256', hash: sent.json.sha256 }),
      });
      expect(checked.json.duplicateOf).not.toBe(sent.json.id);
      expect(checked.json.duplicateOf).toEqual(expect.any(String));
      restarted = await startTestApp({ databaseUrl: stopped.databaseUrl, dataDir: restartDir });
      expect((await request(`${restarted.url}/api/v1/media/${other.json.id}`, { token: bob })).status).toBe(404);
      // Deleted by the workers within 60 s of the expiry (a sweep every 10 s; the restarted one sweeps at boot).
      await waitFor(
        async () => (await mediaRows(running.databaseUrl, sent.json.id)) === 0 && !(await blobsLeft(running, keys)),
        60_000,
      );
      await waitFor(
        async () =>
          (await mediaRows(stopped.databaseUrl, other.json.id)) === 0 && !(await blobsLeft(restarted!, otherKeys)),
        60_000,
      );
      const after = (await request(`${running.url}/api/v1/media/storage`, { token: alice })).json;
      expect([after.fileCount, after.usedBytes]).toEqual([before.fileCount - 1, before.usedBytes - sent.json.size]);
    } finally {
      await running.close();
      await restarted?.close();
      rmSync(restartDir, { recursive: true, force: true });
    }
  });

  it('expiresIn outside 30..31536000, or not a whole number, is 400', async () => {
    const t = await startTestApp();
    try {
      const token = await t.token('alice');
      const bytes = await picture(33);
      for (const value of ['29', '31536001', '60.5', 'soon', '-30']) {
        const reply = await request(`${t.url}/api/v1/media/upload?expiresIn=${value}`, {
          method: 'POST',
          body: form(bytes),
          token,
        });
        expect([value, reply.status, reply.json.code]).toEqual([value, 400, 'VALIDATION_FAILED']);
      }
      const twice = await request(`${t.url}/api/v1/media/upload?expiresIn=60&expiresIn=90`, {
        method: 'POST',
        body: form(bytes),
        token,
      });
      expect(twice.status).toBe(400);
      const permanent = await upload(t.url, token, { name: 'p.png', bytes });
      expect([permanent.status, permanent.json.expiresAt]).toEqual([201, null]);
    } finally {
      await t.close();
    }
  });

  it('SetExpiry: owner only, brings an expiry forward and never back; the media is 404 from then on', async () => {
    const t = await startTestApp({ grpc: true });
    const grpc = new MediaGrpcClient(t.grpcAddress!);
    try {
      const alice = await t.token('alice');
      const sent = await upload(t.url, alice, { name: 'k.png', bytes: await picture(34) });
      const id = sent.json.id;
      await grpc.ok('GrantAccess', {
        acting_user_id: 'alice',
        media_ids: [id],
        conversation_id: 'c',
        user_ids: ['bob'],
      });
      const inAnHour = new Date(Date.now() + 3600_000).toISOString();
      const inTwoHours = new Date(Date.now() + 7200_000).toISOString();
      expect(
        (await grpc.call('SetExpiry', { acting_user_id: 'bob', media_id: id, expires_at: inAnHour })).error?.code,
      ).toBe(status.PERMISSION_DENIED);
      expect(
        (await grpc.call('SetExpiry', { acting_user_id: 'dave', media_id: id, expires_at: inAnHour })).error?.code,
      ).toBe(status.NOT_FOUND);
      expect(await grpc.ok('SetExpiry', { acting_user_id: 'alice', media_id: id, expires_at: inAnHour })).toEqual({
        expires_at: inAnHour,
      });
      expect(await grpc.ok('SetExpiry', { acting_user_id: 'alice', media_id: id, expires_at: inTwoHours })).toEqual({
        expires_at: inAnHour,
      });
      expect((await request(`${t.url}/api/v1/media/${id}/metadata`, { token: alice })).json.expiresAt).toBe(inAnHour);
      const soon = new Date(Date.now() + 1500).toISOString();
      expect(await grpc.ok('SetExpiry', { acting_user_id: 'alice', media_id: id, expires_at: soon })).toEqual({
        expires_at: soon,
      });
      expect((await grpc.ok('GetMedia', { acting_user_id: 'bob', media_ids: [id] })).media[0].expires_at).toBe(soon);
      await waitFor(() => Date.now() >= Date.parse(soon), 10_000);
      expect((await request(`${t.url}/api/v1/media/${id}`, { token: alice })).status).toBe(404);
      expect(await grpc.ok('GetMedia', { acting_user_id: 'bob', media_ids: [id] })).toEqual({ media: [] });
      await waitFor(async () => (await mediaRows(t.databaseUrl, id)) === 0, 60_000);
    } finally {
      grpc.close();
      await t.close();
    }
  });

  it('DeleteUserMedia deletes every media of the user, shared ones too; a second call finds nothing', async () => {
    const t = await startTestApp({ grpc: true });
    const grpc = new MediaGrpcClient(t.grpcAddress!);
    try {
      const [gone, bob] = [await t.token('gone'), await t.token('bob')];
      const ids: string[] = [];
      for (let seed = 40; seed < 45; seed++)
        ids.push((await upload(t.url, gone, { name: `${seed}.png`, bytes: await picture(seed) })).json.id);
      await grpc.ok('GrantAccess', {
        acting_user_id: 'gone',
        media_ids: ids.slice(0, 2),
        conversation_id: 'c',
        user_ids: ['bob'],
      });
      expect((await request(`${t.url}/api/v1/media/${ids[0]}`, { token: bob })).status).toBe(200);
      expect(await grpc.ok('DeleteUserMedia', { user_id: 'gone' })).toEqual({ deleted: 5 });
      expect((await request(`${t.url}/api/v1/media/${ids[0]}`, { token: bob })).status).toBe(404);
      expect((await request(`${t.url}/api/v1/media/storage`, { token: gone })).json).toMatchObject({
        usedBytes: 0,
        fileCount: 0,
      });
      expect(await grpc.ok('DeleteUserMedia', { user_id: 'gone' })).toEqual({ deleted: 0 });
      expect(
        await query(t.databaseUrl, 'SELECT count(*)::int AS n FROM data_keys WHERE owner_id = $1', ['gone']),
      ).toEqual([{ n: 0 }]);
    } finally {
      grpc.close();
      await t.close();
    }
  });
});

function form(bytes: Buffer): FormData {
  const body = new FormData();
  body.append('file', new Blob([new Uint8Array(bytes)]), 'photo.png');
  return body;
}
