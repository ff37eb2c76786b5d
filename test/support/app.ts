import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { SignJWT } from 'jose';
import { createApp } from '../../src/bootstrap';
import { loadConfig } from '../../src/config/load-config';
import { freePort } from '../../src/common/free-port';
import { createTestDatabase } from './database';
import { KEY_A, TEST_JWT_SECRET } from './secrets';

export { KEY_A, KEY_B, TEST_JWT_SECRET } from './secrets';

export interface TestApp {
  url: string;
  /** host:port of the gRPC API, when started with `grpc: true`. */
  grpcAddress?: string;
  app: INestApplication;
  databaseUrl: string;
  dataDir: string;
  token(userId: string, options?: { roles?: string[]; ttl?: number }): Promise<string>;
  /**
   * Every file, and every work directory, left in this app's temp dirs, and every removed
   * file of them this process still holds open (should be none between requests).
   */
  tempFiles(): string[];
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  /** Reuse a database (and data dir) of an earlier app, e.g. to restart with other keys. */
  databaseUrl?: string;
  dataDir?: string;
  /** Serve the gRPC API too, on a free port (off otherwise: parallel test apps would all want 50051). */
  grpc?: boolean;
}

let apps = 0;

/** The real Nest app on a real socket, on its own database and data dir. */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const databaseUrl = options.databaseUrl ?? (await createTestDatabase());
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'media-test-data-'));
  const grpcPort = options.grpc ? await freePort() : 0;
  const config = loadConfig({
    NODE_ENV: 'test',
    // With the run's log dir (global-setup), every line goes to a file the teardown scans for secrets.
    ...(process.env.MEDIA_TEST_LOG_DIR
      ? { LOG_LEVEL: 'info', LOG_FILE: join(process.env.MEDIA_TEST_LOG_DIR, `app-${process.pid}-${++apps}.log`) }
      : { LOG_LEVEL: 'silent' }),
    DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl,
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    MEDIA_MASTER_KEYS: KEY_A,
    UPLOAD_BYTES_PER_SECOND: String(1024 * 1024 * 1024),
    RATE_LIMIT_PER_MINUTE: '10000',
    GRPC_PORT: String(grpcPort),
    ...options.env,
  });
  const app = await createApp(config);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    grpcAddress: options.grpc ? `127.0.0.1:${grpcPort}` : undefined,
    app,
    databaseUrl,
    dataDir,
    token: (userId, { roles = [], ttl = 3600 } = {}) => signToken(userId, roles, ttl),
    tempFiles: () => [...listFiles(join(dataDir, 'tmp')), ...removedButOpenUnder(join(dataDir, 'tmp'))],
    close: async () => {
      await app.close();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function signToken(userId: string, roles: string[] = [], ttl = 3600, secret = TEST_JWT_SECRET): Promise<string> {
  return new SignJWT({ roles })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttl)
    .sign(new TextEncoder().encode(secret));
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    // The process's own directory is one level down; anything deeper that is not a file is a request's work directory.
    const path = join(entry.parentPath, entry.name);
    if (entry.isFile() || (entry.isDirectory() && entry.parentPath !== dir)) out.push(path);
  }
  return out;
}

/** The removed files under `dir` this process still holds open (an existing one is listed as a file). */
function removedButOpenUnder(dir: string): string[] {
  const open: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed meanwhile (the directory's own descriptor, among others)
    }
    if (target.startsWith(`${dir}/`) && target.endsWith(' (deleted)')) open.push(`open: ${target}`);
  }
  return open;
}

/** The environment that sets the size limit of every media type (MAX_IMAGE_BYTES ... MAX_ARCHIVE_BYTES) to `bytes`. */
export function everyTypeAtMost(bytes: number): Record<string, string> {
  return Object.fromEntries(
    ['IMAGE', 'VIDEO', 'AUDIO', 'DOCUMENT', 'ARCHIVE'].map((type) => [`MAX_${type}_BYTES`, String(bytes)]),
  );
}
