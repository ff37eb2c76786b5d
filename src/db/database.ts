import type { AppConfig } from '../config/app-config.js';
import { type EmbeddedDatabase, startEmbeddedPostgres } from './embedded-postgres.js';
import { migrate } from './migrate.js';

export type Database = EmbeddedDatabase;

/** DATABASE_URL, or the embedded PostgreSQL under DATA_DIR; migrated either way. */
export async function prepareDatabase(config: AppConfig, log: (line: string) => void = () => {}): Promise<Database> {
  const database: Database = config.databaseUrl
    ? { url: config.databaseUrl, stop: async () => {} }
    : await startEmbeddedPostgres(config.dataDir, log);
  try {
    const { applied, total } = await migrate(database.url);
    log(`migrations: ${applied.length} applied, ${total} in all`);
  } catch (error) {
    await database.stop();
    throw error;
  }
  return database;
}
