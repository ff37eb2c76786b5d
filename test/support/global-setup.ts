import './resolve-ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres';

/**
 * One real PostgreSQL for the run: TEST_DATABASE_URL when the environment gives one,
 * else an embedded server in a temp dir. Each test file creates its own database on it.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.TEST_DATABASE_URL) {
    process.env.TEST_PG_ADMIN_URL = process.env.TEST_DATABASE_URL;
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'media-test-pg-'));
  const server = await startEmbeddedPostgres(dir);
  process.env.TEST_PG_ADMIN_URL = server.url;
  (globalThis as Record<string, unknown>).__MEDIA_TEST_PG__ = { server, dir };
}
