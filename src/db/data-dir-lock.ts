import { mkdirSync, statSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';

const ASK_OWNER_MS = 2000;

/** Another live process owns this DATA_DIR. */
export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly ownerPid: number | undefined,
  ) {
    super(
      `DATA_DIR ${dataDir} is in use by another media-service process (pid ${ownerPid ?? 'unknown'}), ` +
        'which runs its embedded PostgreSQL: stop that process first, or give this one its own DATA_DIR or a DATABASE_URL',
    );
  }
}

export interface DataDirLock {
  release(): Promise<void>;
}

/**
 * Makes this process the one owner of DATA_DIR, or throws DataDirInUseError naming the
 * live owner's pid.
 *
 * The lock is a listening unix socket in Linux's abstract namespace, named after the
 * directory's device and inode (so every path to it, symlinks included, means the same
 * lock). Binding it is atomic, and the kernel releases it when its process ends, however
 * it ends: a dead owner never leaves a stale lock to judge, and there is no pid that could
 * have been reused. A pid file or a socket file on disk can outlive its process, and
 * removing a stale one races with another starter doing the same. The owner answers
 * connections with its pid. Libuv opens sockets close-on-exec, so the PostgreSQL server
 * started by the owner does not inherit (and keep) the lock.
 */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const { dev, ino } = statSync(dataDir);
  const name = `\0media-service/data-dir/${dev}/${ino}`;
  const server = createServer((socket) => socket.end(`${process.pid}\n`));
  try {
    await listen(server, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    throw new DataDirInUseError(dataDir, await askOwner(name));
  }
  server.unref(); // the lock never keeps the process alive by itself
  let released: Promise<void> | undefined;
  return { release: () => (released ??= new Promise((resolve) => server.close(() => resolve()))) };
}

function listen(server: Server, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(name, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** The owner's pid, as it answers; undefined if it does not answer in time. */
function askOwner(name: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    let answer = '';
    const socket = connect(name);
    const done = () => {
      socket.destroy();
      const pid = Number.parseInt(answer, 10);
      resolve(pid > 0 ? pid : undefined);
    };
    socket.setEncoding('utf8');
    socket.setTimeout(ASK_OWNER_MS, done);
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('end', done);
    socket.on('error', done);
  });
}
