import { query } from '../support/database';
import { startTestApp, type TestApp } from '../support/app';
import { fixture, request, upload, uploadFixture } from '../support/http';
import { makeZip } from '../support/zip';

describe('archives', () => {
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    t = await startTestApp();
    token = await t.token('archivist');
  });
  afterAll(() => t.close());
  afterEach(() => expect(t.tempFiles()).toEqual([]));

  it.each([
    ['zip-html-pages.zip', 6, 150_000],
    ['rar-v4.rar', 2, 34_870],
  ])('%s: stored unchanged, entries and sizes in metadata, no previews', async (name, entries, atLeast) => {
    const bytes = fixture(name);
    const { status, json } = await uploadFixture(t.url, token, name);
    expect(status).toBe(201);
    expect(json).toMatchObject({
      type: 'archive',
      size: bytes.length,
      previews: [],
      metadata: { entries, encryptedEntries: 0, nestedArchives: 0 },
    });
    expect(json.metadata.uncompressedBytes).toBeGreaterThanOrEqual(atLeast);
    expect((await request(`${t.url}/api/v1/media/${json.id}`, { token })).body.equals(bytes)).toBe(true);
  });

  it.each([
    [
      'a RAR signature followed by noise',
      () =>
        Buffer.concat([
          fixture('rar-v4.rar').subarray(0, 7),
          Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 97 + 13) % 256)),
        ]),
    ],
    ['a RAR cut after its first entry', () => fixture('rar-v4.rar').subarray(0, 140)],
    [
      'a RAR with 30 KB of something else appended',
      () => Buffer.concat([fixture('rar-v4.rar'), Buffer.alloc(30_000, 0x41)]),
    ],
  ])('refuses %s as 422 CORRUPT_FILE, leaving nothing', async (_case, bytes) => {
    const { status, json } = await upload(t.url, token, { name: 'broken.rar', bytes: bytes() });
    expect({ status, code: json.code }).toEqual({ status: 422, code: 'CORRUPT_FILE' });
    expect(
      await query(t.databaseUrl, `SELECT id FROM media WHERE owner_id = 'archivist' AND original_name = 'broken.rar'`),
    ).toEqual([]);
  });

  it('reports encrypted and nested entries without refusing them', async () => {
    const zip = makeZip([
      { name: 'secret.txt', data: Buffer.from('x'.repeat(100)), encrypted: true },
      { name: 'inner.zip', data: makeZip([{ name: 'a.txt', data: Buffer.from('a') }]) },
    ]);
    const { status, json } = await upload(t.url, token, { name: 'mixed.zip', bytes: zip });
    expect(status).toBe(201);
    expect(json.metadata).toMatchObject({ entries: 2, encryptedEntries: 1, nestedArchives: 1 });
  });

  const zeros = Buffer.alloc(50 * 1024 * 1024);
  it.each([
    ['zip-slip (../)', [{ name: '../../etc/cron.d/evil', data: Buffer.from('* * * * * root sh\n') }]],
    ['an absolute path', [{ name: '/etc/passwd', data: Buffer.from('root::0:0::/:/bin/sh\n') }]],
    ['a Windows path escaping', [{ name: 'docs\\..\\..\\boot.ini', data: Buffer.from('x') }]],
    ['a symbolic link', [{ name: 'link', data: Buffer.from('/etc/shadow'), mode: 0o120777 }]],
    ['a ratio bomb', [{ name: 'zeros.bin', data: zeros, deflate: true }]],
    [
      'overlapping entries',
      [
        { name: 'a.bin', data: Buffer.alloc(4096, 1) },
        { name: 'b.bin', data: Buffer.alloc(4096, 1), sameDataAs: 0 },
      ],
    ],
    ['too many entries', Array.from({ length: 10_001 }, (_, i) => ({ name: `f${i}`, data: Buffer.from('x') }))],
  ])('refuses %s with 422 CORRUPT_FILE, keeping nothing', async (_label, specs) => {
    const owner = `bomber-${Math.random().toString(36).slice(2, 8)}`;
    const reply = await upload(t.url, await t.token(owner), { name: 'evil.zip', bytes: makeZip(specs) });
    expect(reply.status).toBe(422);
    expect(reply.json.code).toBe('CORRUPT_FILE');
    expect(reply.json.message).toMatch(/^The archive is refused/);
    expect(await query(t.databaseUrl, 'SELECT id FROM media WHERE owner_id = $1', [owner])).toEqual([]);
  });
});
