import { IncidentsRepository } from '../../src/db/incidents.repository';
import { MediaRepository } from '../../src/db/media.repository';
import { BlocklistService } from '../../src/moderation/blocklist.service';
import { phashOfImage, toHex } from '../../src/moderation/phash';
import { startTestApp, type TestApp } from '../support/app';
import { query } from '../support/database';
import { request, upload } from '../support/http';
import { digest, flipBits, picture } from '../support/pictures';

/**
 * The blocklist and hash-check over HTTP, on a real PostgreSQL, with real pictures: who may
 * block, what is matched (exact digests, pHashes within PHASH_MAX_DISTANCE = 10), what a
 * block by media quarantines and whom it hides it from, and that unblocking lifts it.
 */
describe('blocklist and hash-check', () => {
  let t: TestApp;
  let alice: string;
  let bob: string;
  let admin: string;
  let moderator: string;
  const json = (method: string, path: string, token: string | undefined, body?: unknown) =>
    request(`${t.url}/api/v1/${path}`, {
      method,
      token,
      headers: { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const block = (body: unknown, token = admin) => json('POST', 'admin/blocklist', token, body);
  const unblock = (id: string, token = admin) => json('DELETE', `admin/blocklist/${id}`, token);
  const hashCheck = (token: string, algorithm: string, hash: string) =>
    json('POST', 'media/hash-check', token, { algorithm, hash });
  const uploadPicture = async (token: string, bytes: Buffer) => {
    const reply = await upload(t.url, token, { name: 'picture.png', bytes });
    expect(reply.status).toBe(201);
    return reply.json as { id: string; sha256: string };
  };
  /** The pHash of an upload, set by SQL (the pipeline may or may not have filled it). */
  const setPhash = async (mediaId: string, hash: bigint) =>
    query(t.databaseUrl, 'UPDATE media SET phashes = ARRAY[$2::bigint] WHERE id = $1', [
      mediaId,
      BigInt.asIntN(64, hash).toString(),
    ]);

  beforeAll(async () => {
    t = await startTestApp();
    [alice, bob, admin, moderator] = await Promise.all([
      t.token('alice'),
      t.token('bob'),
      t.token('root', { roles: ['admin'] }),
      t.token('mod', { roles: ['moderator'] }),
    ]);
  });
  afterAll(() => t.close());

  it('lets only admins and moderators block and unblock (403 for others, 401 without a token)', async () => {
    const hash = { algorithm: 'md5', hash: digest('md5', Buffer.from('roles')), reason: 'roles' };
    expect(await block(hash, alice)).toMatchObject({ status: 403, json: { statusCode: 403, code: 'FORBIDDEN' } });
    expect((await json('POST', 'admin/blocklist', undefined, hash)).json).toMatchObject({
      statusCode: 401,
      code: 'UNAUTHORIZED',
    });
    const created = await block(hash, moderator);
    expect(created.status).toBe(201);
    expect((await unblock(created.json.id, bob)).json).toMatchObject({ code: 'FORBIDDEN' });
    expect((await unblock(created.json.id, moderator)).status).toBe(204);
    expect((await unblock(created.json.id, admin)).json).toMatchObject({ statusCode: 404, code: 'NOT_FOUND' });
    expect((await unblock('not-a-uuid')).json).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED' });
  });

  it.each([
    ['hex of the wrong length', { algorithm: 'sha256', hash: 'ab'.repeat(31), reason: 'x' }],
    ['not hex', { algorithm: 'md5', hash: 'zz'.repeat(16), reason: 'x' }],
    ['an unknown algorithm', { algorithm: 'sha1', hash: 'ab'.repeat(20), reason: 'x' }],
    [
      'both forms at once',
      { algorithm: 'md5', hash: 'ab'.repeat(16), mediaId: '00000000-0000-4000-8000-000000000000', reason: 'x' },
    ],
    ['an extra field', { algorithm: 'md5', hash: 'ab'.repeat(16), reason: 'x', note: 'y' }],
    ['no reason', { algorithm: 'md5', hash: 'ab'.repeat(16) }],
    ['an empty reason', { algorithm: 'md5', hash: 'ab'.repeat(16), reason: '  ' }],
    ['a reason over 500 characters', { algorithm: 'md5', hash: 'ab'.repeat(16), reason: 'r'.repeat(501) }],
    ['a mediaId that is not a UUID', { mediaId: '42', reason: 'x' }],
    ['an array', [{ algorithm: 'md5', hash: 'ab'.repeat(16), reason: 'x' }]],
  ])('answers 400 VALIDATION_FAILED to a block with %s', async (_case, body) => {
    const reply = await block(body);
    expect(reply.json).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED' });
    expect(reply.json.requestId).toBeTruthy();
  });

  it.each([
    ['an unknown algorithm', { algorithm: 'crc32', hash: 'abcdabcd' }],
    ['a pHash of 15 hex digits', { algorithm: 'phash', hash: 'abcdefabcdefabc' }],
    ['an extra field', { algorithm: 'md5', hash: 'ab'.repeat(16), reason: 'x' }],
  ])('answers 400 to a hash-check with %s', async (_case, body) => {
    expect((await json('POST', 'media/hash-check', alice, body)).json).toMatchObject({
      statusCode: 400,
      code: 'VALIDATION_FAILED',
    });
  });

  it('answers 404 to a block of a media that does not exist', async () => {
    expect((await block({ mediaId: '00000000-0000-4000-8000-000000000000', reason: 'gone' })).json).toMatchObject({
      statusCode: 404,
      code: 'NOT_FOUND',
    });
  });

  it('blocks a sha256 for every caller at once: hash-check says blocked, and an upload of those bytes is refused', async () => {
    const bytes = await picture(101);
    const sha256 = digest('sha256', bytes);
    expect(await hashCheck(bob, 'sha256', sha256)).toMatchObject({
      status: 200,
      json: { blocked: false, duplicateOf: null },
    });
    const created = await block({ algorithm: 'sha256', hash: sha256.toUpperCase(), reason: 'known abuse image' });
    expect(created.status).toBe(201);
    expect(created.json).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      reason: 'known abuse image',
      source: 'admin',
      mediaId: null,
      hashes: [{ algorithm: 'sha256', hash: sha256 }],
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      quarantined: 0,
    });
    for (const token of [alice, bob, admin])
      expect((await hashCheck(token, 'sha256', sha256)).json).toEqual({ blocked: true, duplicateOf: null });
    expect((await hashCheck(bob, 'sha256', sha256.toUpperCase())).json.blocked).toBe(true);
    expect((await hashCheck(bob, 'md5', digest('md5', bytes))).json.blocked).toBe(false);
    const refused = await upload(t.url, alice, { name: 'blocked.png', bytes });
    expect(refused.json).toMatchObject({ statusCode: 422, code: 'CONTENT_REJECTED' });
    const [stored] = await query(t.databaseUrl, 'SELECT count(*)::int AS n FROM media WHERE original_sha256 = $1', [
      sha256,
    ]);
    expect(stored.n).toBe(0);
  });

  it("names only the caller's own media as duplicateOf: by uploaded or stored digest, never another user's, even for admins", async () => {
    const bytes = await picture(102);
    const media = await uploadPicture(alice, bytes);
    expect(media.sha256).not.toBe(digest('sha256', bytes)); // the stored version is re-encoded
    for (const [algorithm, hash] of [
      ['sha256', digest('sha256', bytes)],
      ['md5', digest('md5', bytes)],
      ['sha256', media.sha256],
    ]) {
      expect([algorithm, (await hashCheck(alice, algorithm, hash)).json]).toEqual([
        algorithm,
        { blocked: false, duplicateOf: media.id },
      ]);
      expect([algorithm, (await hashCheck(bob, algorithm, hash)).json]).toEqual([
        algorithm,
        { blocked: false, duplicateOf: null },
      ]);
      expect([algorithm, (await hashCheck(admin, algorithm, hash)).json]).toEqual([
        algorithm,
        { blocked: false, duplicateOf: null },
      ]);
    }
  });

  it('matches pHashes within the distance: a near-duplicate is blocked and found as a duplicate, a farther one is not', async () => {
    const bytes = await picture(103);
    const phash = await phashOfImage(bytes);
    const media = await uploadPicture(alice, bytes);
    await setPhash(media.id, phash);
    expect((await hashCheck(alice, 'phash', toHex(flipBits(phash, 3)))).json).toEqual({
      blocked: false,
      duplicateOf: media.id,
    });
    expect((await hashCheck(bob, 'phash', toHex(flipBits(phash, 3)))).json).toEqual({
      blocked: false,
      duplicateOf: null,
    });

    const blocked = flipBits(phash, 40); // an unrelated picture's hash, as far as the threshold goes
    const created = await block({ algorithm: 'phash', hash: toHex(blocked), reason: 'near duplicates' });
    expect(created.json.quarantined).toBe(0);
    expect((await hashCheck(bob, 'phash', toHex(flipBits(blocked, 4)))).json.blocked).toBe(true);
    expect((await hashCheck(bob, 'phash', toHex(flipBits(blocked, 10)))).json.blocked).toBe(true);
    expect((await hashCheck(bob, 'phash', toHex(flipBits(blocked, 11)))).json.blocked).toBe(false);

    // Blocking a hash 5 bits from alice's picture quarantines it: hidden, and no longer her duplicate.
    const near = await block({ algorithm: 'phash', hash: toHex(flipBits(phash, 5)), reason: 'edited copy' });
    expect(near.json.quarantined).toBe(1);
    expect((await request(`${t.url}/api/v1/media/${media.id}/metadata`, { token: alice })).status).toBe(404);
    expect((await hashCheck(alice, 'phash', toHex(phash))).json).toEqual({ blocked: true, duplicateOf: null });
    expect((await unblock(near.json.id)).status).toBe(204);
    expect((await hashCheck(alice, 'phash', toHex(phash))).json).toEqual({ blocked: false, duplicateOf: media.id });
  });

  it("blocks every hash of a media: it and other users' copies are quarantined (404 to owners, visible to admins) until unblocked", async () => {
    const bytes = await picture(104);
    const phash = await phashOfImage(bytes);
    const [mine, bobsCopy, other] = [
      await uploadPicture(alice, bytes),
      await uploadPicture(bob, bytes),
      await uploadPicture(alice, await picture(105)),
    ];
    await setPhash(mine.id, phash);
    const metadata = (id: string, token: string) => request(`${t.url}/api/v1/media/${id}/metadata`, { token });
    const download = (id: string, token: string) => request(`${t.url}/api/v1/media/${id}`, { token });
    const preview = (id: string, token: string) => request(`${t.url}/api/v1/media/${id}/preview?size=64`, { token });
    expect((await metadata(mine.id, alice)).status).toBe(200); // cached before the block: the block must evict it

    const created = await block({ mediaId: mine.id.toUpperCase(), reason: 'reported by three users' });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ source: 'admin', mediaId: mine.id, quarantined: 2 });
    expect(created.json.hashes).toEqual(
      expect.arrayContaining([
        { algorithm: 'sha256', hash: digest('sha256', bytes) },
        { algorithm: 'md5', hash: digest('md5', bytes) },
        { algorithm: 'sha256', hash: mine.sha256 },
        { algorithm: 'phash', hash: toHex(phash) },
      ]),
    );
    expect(created.json.hashes).toHaveLength(5);

    for (const [id, owner] of [
      [mine.id, alice],
      [bobsCopy.id, bob],
    ]) {
      for (const reply of [await metadata(id, owner), await download(id, owner), await preview(id, owner)]) {
        expect([id, reply.status, reply.json]).toEqual([id, 404, expect.objectContaining({ code: 'NOT_FOUND' })]);
      }
      expect((await json('DELETE', `media/${id}`, owner)).status).toBe(404);
      const seen = await metadata(id, admin);
      expect([seen.status, seen.json.quarantined]).toEqual([200, true]);
      expect((await download(id, moderator)).body.length).toBeGreaterThan(0);
    }
    const untouched = await metadata(other.id, alice);
    expect([untouched.status, 'quarantined' in untouched.json]).toEqual([200, false]);
    expect((await hashCheck(alice, 'sha256', digest('sha256', bytes))).json).toEqual({
      blocked: true,
      duplicateOf: null,
    });

    expect((await unblock(created.json.id)).status).toBe(204);
    for (const [id, owner] of [
      [mine.id, alice],
      [bobsCopy.id, bob],
    ]) {
      const seen = await metadata(id, owner);
      expect([seen.status, 'quarantined' in seen.json]).toEqual([200, false]);
      expect((await download(id, owner)).status).toBe(200);
    }
    expect((await hashCheck(alice, 'sha256', digest('sha256', bytes))).json).toEqual({
      blocked: false,
      duplicateOf: mine.id,
    });
    const [row] = await query(t.databaseUrl, 'SELECT count(*)::int AS n FROM media WHERE quarantined_by IS NOT NULL');
    expect(row.n).toBe(0);
  });

  it('lets an admin delete a quarantined media (and frees its owner’s quota)', async () => {
    const bytes = await picture(106);
    const media = await uploadPicture(bob, bytes);
    const before = (await request(`${t.url}/api/v1/media/storage`, { token: bob })).json.usedBytes;
    const created = await block({ mediaId: media.id, reason: 'delete me' });
    expect(created.json.quarantined).toBe(1);
    expect((await json('DELETE', `media/${media.id}`, admin)).status).toBe(204);
    expect((await request(`${t.url}/api/v1/media/storage`, { token: bob })).json.usedBytes).toBeLessThan(before);
    // The entry outlives the media it was taken from.
    const [entry] = await query(t.databaseUrl, 'SELECT media_id::text FROM blocklist_entries WHERE id = $1', [
      created.json.id,
    ]);
    expect(entry.media_id).toBe(media.id);
  });

  it('reads its own changes back at once: the index and the cached media rows are current when add and remove resolve', async () => {
    const blocklist = t.app.get(BlocklistService);
    const media = t.app.get(MediaRepository);
    const sha256 = digest('sha256', Buffer.from('read your writes'));
    const { entry } = await blocklist.add({
      hashes: [{ algorithm: 'sha256', hash: sha256 }],
      reason: 'r',
      source: 'admin',
    });
    expect(blocklist.match({ sha256: [sha256], md5: [], phashes: [] })?.entryId).toBe(entry.id);
    expect(await blocklist.remove(entry.id)).toBe(true);
    expect(blocklist.match({ sha256: [sha256], md5: [], phashes: [] })).toBeUndefined();
    for (let seed = 110; seed < 114; seed++) {
      const { id } = await uploadPicture(alice, await picture(seed));
      await media.findById(id); // cached
      const quarantine = await blocklist.addMedia({ mediaId: id, reason: 'r' });
      expect((await media.findById(id))?.quarantinedBy).toBe(quarantine.entry.id);
      await blocklist.remove(quarantine.entry.id);
      expect((await media.findById(id))?.quarantinedBy).toBeNull();
    }
  });

  it('reuses the entry of an identical moderation-service verdict, and drops invalid hashes it sends', async () => {
    const blocklist = t.app.get(BlocklistService);
    const hashes = [
      { algorithm: 'md5' as const, hash: digest('md5', Buffer.from('verdict')) },
      { algorithm: 'phash' as const, hash: '0123456789ABCDEF' },
    ];
    const first = await blocklist.add({ hashes, reason: 'csam', source: 'moderation-service' });
    const again = await blocklist.add({ hashes: [...hashes].reverse(), reason: 'csam', source: 'moderation-service' });
    expect(again.entry.id).toBe(first.entry.id);
    const subset = await blocklist.add({
      hashes: [hashes[0], { algorithm: 'sha256' as const, hash: 'not hex' }],
      reason: 'csam',
      source: 'moderation-service',
    });
    expect(subset.entry.id).not.toBe(first.entry.id);
    expect(subset.entry.hashes).toEqual([hashes[0]]);
    const byAdmin = await blocklist.add({ hashes, reason: 'csam', source: 'admin' });
    expect(byAdmin.entry.id).not.toBe(first.entry.id);
    await expect(
      blocklist.add({ hashes: [{ algorithm: 'md5', hash: 'xyz' }], reason: 'r', source: 'moderation-service' }),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('records incidents with hashes and no content', async () => {
    const incidents = t.app.get(IncidentsRepository);
    const id = await incidents.record({
      ownerId: 'alice',
      kind: 'blocklist',
      code: 'CONTENT_REJECTED',
      reason: 'known abuse image',
      sha256: 'ab'.repeat(32),
      phashes: [0xffffffffffffffffn, 1n],
      requestId: 'req-1',
      details: { entryId: 'e' },
    });
    const [row] = await query(
      t.databaseUrl,
      'SELECT owner_id, kind, code, md5, phashes::text[] AS phashes, request_id, details FROM incidents WHERE id = $1',
      [id],
    );
    expect(row).toEqual({
      owner_id: 'alice',
      kind: 'blocklist',
      code: 'CONTENT_REJECTED',
      md5: null,
      phashes: ['-1', '1'],
      request_id: 'req-1',
      details: { entryId: 'e' },
    });
    await expect(incidents.record({ ownerId: 'alice', kind: 'other', code: 'X', reason: 'y' })).rejects.toThrow();
  });
});
