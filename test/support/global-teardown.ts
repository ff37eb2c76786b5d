import './resolve-ts';
import { rmSync } from 'node:fs';
import type { EmbeddedDatabase } from '../../src/db/embedded-postgres';
import { countLines, scanLogs } from './log-scan';

export default async function globalTeardown(): Promise<void> {
  const state = (globalThis as Record<string, unknown>).__MEDIA_TEST_PG__ as
    { server: EmbeddedDatabase; dir: string } | undefined;
  if (state) {
    await state.server.stop();
    rmSync(state.dir, { recursive: true, force: true });
  }
  const runRoot = (globalThis as Record<string, unknown>).__MEDIA_TEST_RUN_ROOT__ as string | undefined;
  const logs = process.env.MEDIA_TEST_LOG_DIR;
  const leaks = logs ? scanLogs(logs) : [];
  const lines = logs ? countLines(logs) : 0;
  if (runRoot) rmSync(runRoot, { recursive: true, force: true });
  // Fails the run: a secret, a token or file content reached a log line of some test's service.
  if (leaks.length)
    throw new Error(`secrets in the run's logs (${lines} lines scanned):\n${leaks.slice(0, 20).join('\n')}`);
  process.stdout.write(`log scan: ${lines} log lines of the run's services, no secret, token or file content\n`);
}
