import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pg from 'pg';

/** Arbitrary constant for pg_advisory_lock: one migrator at a time across pods. */
const MIGRATION_LOCK = 72_616_001;

export interface MigrationResult {
  applied: string[];
  total: number;
}

/**
 * Applies prisma/migrations/<name>/migration.sql in name order, each in its own
 * transaction, recording them in Prisma's `_prisma_migrations` table (same columns and
 * checksums as `prisma migrate deploy`). It needs no schema engine, so it works offline.
 * A migration that fails, or an applied one whose file changed, is an error.
 */
export async function migrate(databaseUrl: string, migrationsDir = findMigrationsDir()): Promise<MigrationResult> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query(CREATE_TABLE);
    const done = await appliedMigrations(client);
    const names = readdirSync(migrationsDir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
    const applied: string[] = [];
    for (const name of names) {
      const sql = readFileSync(join(migrationsDir, name, 'migration.sql'), 'utf8');
      const checksum = createHash('sha256').update(sql).digest('hex');
      const previous = done.get(name);
      if (previous) {
        if (previous.checksum !== checksum) throw new Error(`migration ${name} was modified after it was applied`);
        continue;
      }
      await applyOne(client, name, sql, checksum);
      applied.push(name);
    }
    const after = await appliedMigrations(client);
    const missing = names.filter((n) => !after.has(n));
    if (missing.length) throw new Error(`migrations not applied: ${missing.join(', ')}`);
    return { applied, total: names.length };
  } finally {
    await client.end();
  }
}

async function applyOne(client: pg.Client, name: string, sql: string, checksum: string): Promise<void> {
  try {
    await client.query('BEGIN');
    await client.query(sql);
    await client.query(
      `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, started_at, applied_steps_count)
       VALUES ($1, $2, now(), $3, now(), 1)`,
      [randomUUID(), checksum, name],
    );
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw new Error(`migration ${name} failed: ${(error as Error).message}`, { cause: error });
  }
}

async function appliedMigrations(client: pg.Client): Promise<Map<string, { checksum: string }>> {
  const { rows } = await client.query(
    `SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL`,
  );
  const failed = rows.filter((r) => r.finished_at === null).map((r) => r.migration_name);
  if (failed.length) throw new Error(`failed migrations must be resolved first: ${failed.join(', ')}`);
  return new Map(rows.map((r) => [r.migration_name as string, { checksum: r.checksum as string }]));
}

/** prisma/migrations, found upward from this file (works from src/ and from dist/). */
function findMigrationsDir(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, 'prisma', 'migrations');
    if (existsSync(candidate)) return candidate;
  }
  throw new Error('prisma/migrations not found');
}

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;
