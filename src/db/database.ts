import type { AppConfig } from '../config/app-config.js';
import { type EmbeddedDatabase, type EmbeddedOptions, startEmbeddedPostgres } from './embedded-postgres.js';
import { migrate } from './migrate.js';

export type Database = EmbeddedDatabase;

/**
 * DATABASE_URL, or the embedded PostgreSQL under DATA_DIR (supervised: restarted when it
 * dies, `options.onGiveUp` when that keeps failing); migrated either way.
 */
export async function prepareDatabase(
  config: AppConfig,
  log: (line: string) => void = () => {},
  options: EmbeddedOptions = {},
): Promise<Database> {
  const database: Database = config.databaseUrl
    ? { url: config.databaseUrl, stopSupervising: async () => {}, stop: async () => {} }
    : await startEmbeddedPostgres(config.dataDir, log, options);
  try {
    const { applied, total } = await migrate(database.url);
    log(`migrations: ${applied.length} applied, ${total} in all`);
  } catch (error) {
    await database.stop();
    throw error;
  }
  return database;
}
