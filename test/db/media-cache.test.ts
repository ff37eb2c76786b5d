import pg from 'pg';
import { query } from '../support/database';
import { startTestApp, type TestApp } from '../support/app';
import { request, uploadFixture } from '../support/http';
import { waitFor } from '../support/wait';

// Another replica (or a worker process) changing a row is played by SQL from the test:
// only the triggers and the change feed can tell this process about it.
describe('media row cache, kept current by the change feed', () => {
  let t: TestApp;
  let alice: string;
  beforeAll(async () => {
    t = await startTestApp();
    alice = await t.token('alice');
  });
  afterAll(() => t.close());

  const metadata = (id: string) => request(`${t.url}/api/v1/media/${id}/metadata`, { token: alice });

  it('serves repeated reads of a row without reading the database again', async () => {
    const { json } = await uploadFixture(t.url, alice, 'pdf-tables-gofpdf.pdf');
    const id = (json as { id: string }).id;
    expect((await metadata(id)).status).toBe(200);
    // Hold a lock no reader of the table can pass: only a cached row can still be served.
    const locker = new pg.Client({ connectionString: t.databaseUrl });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE media IN ACCESS EXCLUSIVE MODE');
      for (let i = 0; i < 20; i++) expect((await metadata(id)).status).toBe(200);
      expect((await request(`${t.url}/api/v1/media/${id}`, { token: alice })).status).toBe(200);
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
  });

  it('a change committed elsewhere is seen at once: failed, then deleted', async () => {
    const { json } = await uploadFixture(t.url, alice, 'zip-html-pages.zip');
    const id = (json as { id: string }).id;
    expect((await metadata(id)).status).toBe(200);
    await query(t.databaseUrl, `UPDATE media SET status = 'failed', failure_reason = 'CORRUPT_FILE' WHERE id = $1`, [
      id,
    ]);
    await waitFor(async () => ((await metadata(id)).json as { status: string }).status === 'failed', 2000);
    expect((await request(`${t.url}/api/v1/media/${id}`, { token: alice })).status).toBe(404);
    await query(t.databaseUrl, `DELETE FROM previews WHERE media_id = $1`, [id]);
    await query(t.databaseUrl, `DELETE FROM media WHERE id = $1`, [id]);
    await waitFor(async () => (await metadata(id)).status === 404, 2000);
  });

  it('reconnecting after the listener is cut forgets everything cached', async () => {
    const { json } = await uploadFixture(t.url, alice, 'txt-utf8-demo.txt');
    const id = (json as { id: string }).id;
    expect((await metadata(id)).status).toBe(200);
    // Cut the listening connection, change the row while nobody listens, let it reconnect.
    await query(
      t.databaseUrl,
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'media-service changes' AND datname = current_database()`,
    );
    await query(t.databaseUrl, `UPDATE media SET original_name = 'renamed.txt' WHERE id = $1`, [id]);
    await waitFor(
      async () => ((await metadata(id)).json as { originalName: string }).originalName === 'renamed.txt',
      5000,
    );
  });
});
