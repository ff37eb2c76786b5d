/**
 * A distributed deployment of the built service on this machine: its own PostgreSQL (which a
 * test may kill and bring back on the same port), a redis-server, an S3 bucket (s3rver), and
 * as many replicas (`node dist/src/main.js`, MEDIA_ROLE api, worker or all) as a test starts.
 * `expectNothingLostOrLeft()` checks what every fault must leave intact.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from '../../src/common/free-port';
import { migrate } from '../../src/db/migrate';
import { KEY_A, TEST_JWT_SECRET } from './app';
import { query } from './database';
import { RedisServer } from './redis-server';
import { type S3Server, startS3Server } from './s3-server';
import { isAlive, MAIN, postmasterPid, ready, type Running, runService, serviceEnv } from './service-process';
import { waitFor } from './wait';

export interface Replica {
  base: string;
  dataDir: string;
  service: Running;
}

export class Deployment {
  readonly replicas: Replica[] = [];
  private readonly dirs: string[] = [];

  private constructor(
    readonly pgDir: string,
    private pgPort: number,
    private database: ChildProcess | undefined,
    readonly databaseUrl: string,
    readonly redis: RedisServer,
    readonly s3: S3Server,
    readonly bucket: string,
  ) {}

  static async start(): Promise<Deployment> {
    const pgDir = mkdtempSync(join(tmpdir(), 'media-test-deploy-pg-'));
    const pgPort = await freePort();
    const { child, url } = await startDatabase(pgDir, pgPort);
    await migrate(url);
    const s3 = await startS3Server();
    const deployment = new Deployment(pgDir, pgPort, child, url, await RedisServer.start(), s3, await s3.newBucket());
    deployment.dirs.push(pgDir);
    return deployment;
  }

  /** A new temp dir, removed by stop(). */
  newDir(name: string): string {
    const dir = mkdtempSync(join(tmpdir(), `media-test-deploy-${name}-`));
    this.dirs.push(dir);
    return dir;
  }

  /** Starts one replica of `role` and waits until it is ready. */
  async replica(
    role: 'api' | 'worker' | 'all',
    env: Record<string, string> = {},
    dataDir = this.newDir(role),
  ): Promise<Replica> {
    const port = await freePort();
    const service = runService(
      serviceEnv({
        ...this.s3.env(this.bucket),
        MEDIA_ROLE: role,
        PORT: String(port),
        DATA_DIR: dataDir,
        DATABASE_URL: this.databaseUrl,
        REDIS_URL: this.redis.url,
        AUTH_JWT_SECRET: TEST_JWT_SECRET,
        MEDIA_MASTER_KEYS: KEY_A,
        RATE_LIMIT_PER_MINUTE: '100000',
        JOB_POLL_SECONDS: '0.5',
        JOB_MAINTENANCE_SECONDS: '1',
        STORAGE_MIN_FREE_BYTES: '0',
        ...env,
      }),
    );
    const replica = { base: `http://127.0.0.1:${port}`, dataDir, service };
    this.replicas.push(replica);
    await ready(service, replica.base, 60_000);
    return replica;
  }

  async kill(replica: Replica, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    replica.service.child.kill(signal);
    await replica.service.exited;
  }

  /** SIGKILL to the postmaster: PostgreSQL gone, as when its machine dies. */
  async killDatabase(): Promise<void> {
    const pid = postmasterPid(this.pgDir)!;
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !isAlive(pid));
    await this.stopDatabase(); // releases DATA_DIR; the server is gone already
  }

  /** PostgreSQL back on the same port, after crash recovery (retried while the old backends still exit). */
  async restartDatabase(): Promise<void> {
    await waitFor(async () => {
      this.database = (await startDatabase(this.pgDir, this.pgPort).catch(() => undefined))?.child;
      return this.database !== undefined;
    }, 60_000);
  }

  private async stopDatabase(): Promise<void> {
    const child = this.database;
    this.database = undefined;
    if (!child || child.exitCode !== null) return;
    child.stdin!.end(); // it stops its server (if alive) and exits
    await once(child, 'exit');
  }

  /**
   * What a fault must not break: every blob has its row and every row its blob (media and
   * previews, in the bucket), no data key without its blob's row, each user's usage equal to
   * what they store, no quota reservation, no job left, no temp file in any replica's DATA_DIR.
   */
  async expectNothingLostOrLeft(): Promise<void> {
    const db = this.databaseUrl;
    await waitFor(
      async () =>
        (await query(db, "SELECT id FROM pgboss.job WHERE state IN ('created', 'retry', 'active')")).length === 0,
      120_000,
    );
    const blobs = async () => (await this.s3.keys(this.bucket, 'blobs/')).sort();
    const rows = async () =>
      (await query<{ blob_key: string }>(db, 'SELECT blob_key FROM media UNION ALL SELECT blob_key FROM previews'))
        .map((row) => row.blob_key)
        .sort();
    const reservations = () => query(db, 'SELECT id FROM quota_reservations');
    // A give-back that failed while a dependency was down is retried (at most 30 s apart): wait for it, then compare.
    await waitFor(
      async () => JSON.stringify(await blobs()) === JSON.stringify(await rows()) && (await reservations()).length === 0,
      90_000,
    ).catch(() => {});
    expect(await blobs()).toEqual(await rows());
    expect(
      await query(
        db,
        'SELECT id FROM data_keys WHERE id NOT IN (SELECT data_key_id FROM media UNION ALL SELECT data_key_id FROM previews)',
      ),
    ).toEqual([]);
    const usage = await query(
      db,
      'SELECT owner_id, used_bytes::bigint AS bytes, file_count AS files FROM usage WHERE file_count > 0 OR used_bytes <> 0 ORDER BY owner_id',
    );
    const stored = await query(
      db,
      'SELECT owner_id, sum(size)::bigint AS bytes, count(*)::int AS files FROM media GROUP BY owner_id ORDER BY owner_id',
    );
    expect(usage).toEqual(stored);
    expect(await reservations()).toEqual([]);
    for (const { dataDir } of this.replicas) expect(filesUnder(join(dataDir, 'tmp'))).toEqual([]);
  }

  async stop(): Promise<void> {
    for (const { service } of this.replicas) {
      if (service.child.exitCode === null && service.child.signalCode === null) {
        service.child.kill('SIGTERM');
        await service.exited;
      }
    }
    await this.stopDatabase();
    const pid = postmasterPid(this.pgDir);
    if (pid && isAlive(pid)) process.kill(pid, 'SIGKILL');
    await this.redis.close();
    await this.s3.stop();
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
  }
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

// PostgreSQL is run by a child process with the service's own embedded-postgres code (an ES
// module, which Jest's module system cannot load): it prints the URL once the server is up,
// does not restart it (the test decides when PostgreSQL comes back), and stops it when its
// stdin closes, i.e. also when the test process dies.
const DATABASE_SCRIPT = `
const [main, dir, port] = process.argv.slice(1);
const { startEmbeddedPostgres } = require(main.replace(/main\\.js$/, 'db/embedded-postgres.js'));
startEmbeddedPostgres(dir, (line) => console.error(line), { port: Number(port) }).then(async (db) => {
  await db.stopSupervising();
  console.log(JSON.stringify({ url: db.url }));
  process.stdin.on('end', () => db.stop().then(() => process.exit(0))).resume();
}, (error) => { console.error(error); process.exit(1); });
`;

function startDatabase(dir: string, port: number): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['-e', DATABASE_SCRIPT, MAIN, dir, String(port)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const errors: string[] = [];
  child.stderr!.on('data', (chunk) => errors.push(String(chunk)));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`PostgreSQL's process ended (${code}):\n${errors.join('')}`)));
    createInterface({ input: child.stdout! }).once('line', (line) => resolve({ child, url: JSON.parse(line).url }));
  });
}
