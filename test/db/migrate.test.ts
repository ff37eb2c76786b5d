import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate } from '../../src/db/migrate';
import { createEmptyDatabase, query } from '../support/database';

const MIGRATIONS = join(__dirname, '..', '..', 'prisma', 'migrations');

describe('offline migrations', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
  const copyOfMigrations = () => {
    const dir = mkdtempSync(join(tmpdir(), 'media-test-migrations-'));
    dirs.push(dir);
    cpSync(MIGRATIONS, dir, { recursive: true });
    return dir;
  };

  it('applies every migration once, in Prisma format, and is idempotent', async () => {
    const url = await createEmptyDatabase();
    const first = await migrate(url, MIGRATIONS);
    expect(first.applied.length).toBe(first.total);
    expect(first.total).toBeGreaterThan(0);
    const second = await migrate(url, MIGRATIONS);
    expect(second.applied).toEqual([]);
    const rows = await query(
      url,
      'SELECT migration_name, checksum, finished_at, applied_steps_count FROM _prisma_migrations',
    );
    expect(rows).toHaveLength(first.total);
    expect(rows[0]).toMatchObject({ applied_steps_count: 1, checksum: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const tables = await query(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename");
    expect(tables.map((t) => t.tablename)).toEqual(
      expect.arrayContaining([
        'media',
        'previews',
        'data_keys',
        'user_keys',
        'usage',
        'daily_uploads',
        'quota_reservations',
      ]),
    );
  });

  it('fails loudly on a migration that does not apply, applying nothing of it', async () => {
    const url = await createEmptyDatabase();
    const dir = copyOfMigrations();
    mkdirSync(join(dir, '29991231000000_broken'));
    writeFileSync(
      join(dir, '29991231000000_broken', 'migration.sql'),
      'CREATE TABLE ok_part (id int);\nALTER TABLE no_such_table ADD COLUMN x int;',
    );
    await expect(migrate(url, dir)).rejects.toThrow(/29991231000000_broken failed/);
    expect(await query(url, "SELECT 1 FROM pg_tables WHERE tablename = 'ok_part'")).toEqual([]);
    await expect(migrate(url, dir)).rejects.toThrow(/broken/);
  });

  it('refuses to run when an applied migration was modified', async () => {
    const url = await createEmptyDatabase();
    const dir = copyOfMigrations();
    await migrate(url, dir);
    writeFileSync(join(dir, '20261124000000_init', 'migration.sql'), '-- edited\n', { flag: 'a' });
    await expect(migrate(url, dir)).rejects.toThrow(/modified after it was applied/);
  });
});
