import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataKeyService } from '../../src/crypto/data-key.service';
import { KEY_A, KEY_B, startTestApp, type TestApp } from '../support/app';
import { createTestDatabase, query } from '../support/database';
import { request, uploadFixture } from '../support/http';

const FILES = ['jpeg-exif-gps-nikon-d2h.jpg', 'pdf-tables-gofpdf.pdf', 'zip-html-pages.zip'];

describe('master key rotation', () => {
  it('re-wraps every data key without touching blobs, resumably; the old key can then be removed', async () => {
    const databaseUrl = await createTestDatabase();
    let t: TestApp = await startTestApp({ databaseUrl, env: { MEDIA_MASTER_KEYS: KEY_A } });
    const dataDir = t.dataDir;
    const restart = async (keys: string) => {
      await t.app.close();
      t = await startTestApp({ databaseUrl, dataDir, env: { MEDIA_MASTER_KEYS: keys } });
    };
    const ids: Record<string, string> = {};
    const sha256s: Record<string, string> = {};
    for (const [i, name] of FILES.entries()) {
      const { json } = await uploadFixture(t.url, await t.token(i % 2 ? 'alice' : 'bob'), name);
      [ids[name], sha256s[name]] = [json.id, json.sha256];
    }
    // Every stored blob has a data key of its own: each file, and the image's and the PDF's three previews.
    const [{ n: firstKeys }] = await query(databaseUrl, 'SELECT count(*)::int AS n FROM data_keys');
    expect(firstKeys).toBe(3 + 3 + 3);
    const blobHashes = async () => {
      const rows = await query(databaseUrl, 'SELECT blob_key FROM media ORDER BY blob_key');
      return rows.map((r) =>
        createHash('sha256')
          .update(readFileSync(join(dataDir, 'storage', ...r.blob_key.split('/'))))
          .digest('hex'),
      );
    };
    const downloadAll = async () => {
      const admin = await t.token('root', { roles: ['admin'] });
      const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
      return Promise.all(
        FILES.map(
          async (name) =>
            sha256((await request(`${t.url}/api/v1/media/${ids[name]}`, { token: admin })).body) === sha256s[name],
        ),
      );
    };

    // New key first, old key still listed: old files read, new files use the new key.
    await restart(`${KEY_B},${KEY_A}`);
    expect(await downloadAll()).toEqual([true, true, true]);
    await uploadFixture(t.url, await t.token('carol'), 'txt-utf8-demo.txt');
    const byKey = async () =>
      Object.fromEntries(
        (await query(databaseUrl, 'SELECT master_key_id, count(*)::int AS n FROM data_keys GROUP BY 1')).map((r) => [
          r.master_key_id,
          r.n,
        ]),
      );
    const [{ n: allKeys }] = await query(databaseUrl, 'SELECT count(*)::int AS n FROM data_keys');
    expect(await byKey()).toEqual({ a: firstKeys, b: allKeys - firstKeys });
    const before = await blobHashes();

    // Interrupted after the first batch, then run again: it picks up where it stopped.
    const keys = t.app.get(DataKeyService);
    await expect(
      keys.rotateAll(() => {
        throw new Error('interrupted');
      }, 1),
    ).rejects.toThrow('interrupted');
    expect(await byKey()).toEqual({ a: firstKeys - 1, b: allKeys - firstKeys + 1 });
    expect(await keys.rotateAll()).toEqual({ rewrapped: firstKeys - 1 });
    expect(await byKey()).toEqual({ b: allKeys });
    expect(await blobHashes()).toEqual(before);

    // The old key leaves the environment: everything still downloads.
    await restart(KEY_B);
    expect(await downloadAll()).toEqual([true, true, true]);

    // And the files really depend on the key: with only the old one, they do not decrypt.
    await restart(KEY_A);
    const admin = await t.token('root', { roles: ['admin'] });
    const reply = await request(`${t.url}/api/v1/media/${ids[FILES[0]]}`, { token: admin });
    expect(reply.status).toBe(500);
    await t.close();
  });
});
