import './resolve-ts';
import { rmSync } from 'node:fs';
import type { EmbeddedDatabase } from '../../src/db/embedded-postgres';

export default async function globalTeardown(): Promise<void> {
  const state = (globalThis as Record<string, unknown>).__MEDIA_TEST_PG__ as
    { server: EmbeddedDatabase; dir: string } | undefined;
  if (state) {
    await state.server.stop();
    rmSync(state.dir, { recursive: true, force: true });
  }
  const runRoot = (globalThis as Record<string, unknown>).__MEDIA_TEST_RUN_ROOT__ as string | undefined;
  if (runRoot) rmSync(runRoot, { recursive: true, force: true });
}
