import './resolve-ts';
import { chmodSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres';

/**
 * One real PostgreSQL for the run: TEST_DATABASE_URL when the environment gives one,
 * else an embedded server in a temp dir. Each test file creates its own database on it.
 */
export default async function globalSetup(): Promise<void> {
  // Every temp dir of the run (tests', test services', tools') lives under one root that the
  // teardown removes, so a failing test leaves nothing behind in /tmp.
  const runRoot = mkdtempSync(join(tmpdir(), 'media-test-run-'));
  chmodSync(runRoot, 0o711); // the embedded PostgreSQL (user postgres) and clamd pass through it
  (globalThis as Record<string, unknown>).__MEDIA_TEST_RUN_ROOT__ = runRoot;
  process.env.TMPDIR = runRoot;
  // Every log line the run's services write lands here; the teardown scans them for secrets.
  process.env.MEDIA_TEST_LOG_DIR = join(runRoot, 'logs');
  mkdirSync(process.env.MEDIA_TEST_LOG_DIR);
  if (process.env.TEST_DATABASE_URL) {
    process.env.TEST_PG_ADMIN_URL = process.env.TEST_DATABASE_URL;
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'media-test-pg-'));
  const server = await startEmbeddedPostgres(dir);
  process.env.TEST_PG_ADMIN_URL = server.url;
  (globalThis as Record<string, unknown>).__MEDIA_TEST_PG__ = { server, dir };
}
