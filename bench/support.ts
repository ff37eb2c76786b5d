import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, createReadStream, mkdirSync, openAsBlob, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Upload } from 'tus-js-client';
import { freePort } from '../src/common/free-port.js';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.js';

const MB = 1024 * 1024;
export const ROOT = join(__dirname, '..', '..');

export interface BenchService {
  base: string;
  pid: number;
  child: ChildProcess;
  token(user: string): string;
  /** Calls one RPC of the gRPC API (npm run grpc) and answers its JSON response. */
  rpc(method: string, request: object): unknown;
}

/**
 * V8's flags and the allocator's settings as `npm start` gives them: read from its script, so
 * the bench cannot drift from it (docs/configuration.md, "Outside the service").
 */
const START_SCRIPT: string = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.start;
const NODE_ARGS = startFlags(START_SCRIPT);
const START_ENV = startDefaults(START_SCRIPT);

function startFlags(script: string): string[] {
  const flags = /\bnode((?: --\S+)*) dist\/src\/main\.js/.exec(script);
  if (!flags) throw new Error(`no "node ... dist/src/main.js" in the start script: ${script}`);
  return flags[1].split(' ').filter(Boolean);
}

/** The variables the start script defaults (`NAME="${NAME:-value}"`), with those defaults. */
function startDefaults(script: string): Record<string, string> {
  const defaults = Object.fromEntries([...script.matchAll(/\b(\w+)="\$\{\1:-([^}]*)\}"/g)].map((m) => [m[1], m[2]]));
  if (!defaults.MALLOC_ARENA_MAX) throw new Error(`no MALLOC_ARENA_MAX default in the start script: ${script}`);
  return defaults;
}

/** The built service on its embedded defaults under `dataDir` (unless `env` names a DATABASE_URL), with limits out of the way. */
export async function startService(
  dataDir: string,
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
): Promise<BenchService> {
  const port = await freePort();
  const grpcPort = await freePort();
  const inherited = { ...process.env } as Record<string, string>;
  delete inherited.DATABASE_URL;
  const fullEnv: Record<string, string> = {
    ...inherited,
    DATA_DIR: dataDir,
    PORT: String(port),
    GRPC_PORT: String(grpcPort),
    LOG_LEVEL: 'warn',
    UPLOAD_BYTES_PER_SECOND: String(10 * 1024 * MB),
    QUOTA_STORAGE_BYTES: String(100 * 1024 * MB),
    QUOTA_DAILY_UPLOADS: '100000',
    RATE_LIMIT_PER_MINUTE: '100000',
    // As `npm start` runs it (package.json): glibc's arenas and thresholds.
    ...START_ENV,
    ...env,
  };
  const child = spawn(process.execPath, [...NODE_ARGS, ...nodeArgs, join(ROOT, 'dist', 'src', 'main.js')], {
    env: fullEnv,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (
      await fetch(`${base}/health/ready`).then(
        (r) => r.ok,
        () => false,
      )
    ) {
      const token = (user: string) =>
        execFileSync(process.execPath, [join(ROOT, 'dist', 'scripts', 'token.js'), user], { env: fullEnv })
          .toString()
          .trim();
      const rpc = (method: string, request: object) =>
        JSON.parse(
          execFileSync(
            process.execPath,
            [
              join(ROOT, 'dist', 'scripts', 'grpc-call.js'),
              method,
              JSON.stringify(request),
              '--address',
              `127.0.0.1:${grpcPort}`,
            ],
            { env: fullEnv },
          ).toString(),
        );
      return { base, pid: child.pid!, child, token, rpc };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGKILL');
  throw new Error('service did not become ready');
}

export interface Posted {
  status: number;
  body: string;
  ms: number;
}

const since = (started: bigint) => Number(process.hrtime.bigint() - started) / 1e6;

/** How a file is POSTed: postFile, fetchFile or curlFile. */
export type Transport = (url: string, path: string, options: { token?: string; filename?: string }) => Promise<Posted>;

/** POSTs the file streamed from disk on a new connection: multipart-framed with a token (the service), raw without (a baseline). */
export function postFile(
  url: string,
  path: string,
  options: { token?: string; filename?: string } = {},
): Promise<Posted> {
  const boundary = 'bench-boundary';
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${options.filename ?? 'bench.bin'}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const multipart = Boolean(options.token);
  const size = statSync(path).size + (multipart ? head.length + tail.length : 0);
  const target = new URL(url);
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: target.hostname,
      port: target.port,
      path: target.pathname,
      method: 'POST',
      headers: {
        'Content-Length': size,
        'Content-Type': multipart ? `multipart/form-data; boundary=${boundary}` : 'application/octet-stream',
        ...(options.token ? { Authorization: `Bearer ${options.token}` } : {}),
      },
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: since(started) }));
    });
    req.on('error', reject);
    if (multipart) req.write(head);
    const file = createReadStream(path, { highWaterMark: 256 * 1024 });
    file.pipe(req, { end: false });
    file.on('end', () => req.end(multipart ? tail : undefined));
  });
}

/** The file as multipart field `file` through fetch: undici's global dispatcher keeps the connection alive from one to the next. */
export async function fetchFile(
  url: string,
  path: string,
  options: { token?: string; filename?: string },
): Promise<Posted> {
  const form = new FormData();
  form.append('file', await openAsBlob(path), options.filename ?? 'bench.bin');
  const started = process.hrtime.bigint();
  const reply = await fetch(url, {
    method: 'POST',
    headers: options.token ? { Authorization: `Bearer ${options.token}` } : {},
    body: form,
  });
  const body = await reply.text();
  return { status: reply.status, body, ms: since(started) };
}

/** The file as multipart field `file` through a curl process of its own: a new process and connection each time. */
export async function curlFile(
  url: string,
  path: string,
  options: { token?: string; filename?: string },
): Promise<Posted> {
  const auth = options.token ? ['-H', `Authorization: Bearer ${options.token}`] : [];
  const started = process.hrtime.bigint();
  const { stdout } = await promisify(execFile)('curl', [
    '-s',
    '-w',
    '\n%{http_code}',
    ...auth,
    '-F',
    `file=@${path};filename=${options.filename ?? 'bench.bin'}`,
    url,
  ]);
  const end = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(end + 1)), body: stdout.slice(0, end), ms: since(started) };
}

/** Uploads `bytes` by tus (tus-js-client) in `chunkSize` PATCHes; answers the Media-Id of the completing PATCH and the milliseconds taken. */
export function tusUpload(
  endpoint: string,
  bytes: Buffer,
  options: { token: string; filename: string; chunkSize: number },
): Promise<{ id: string; ms: number }> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) =>
    new Upload(bytes, {
      endpoint,
      chunkSize: options.chunkSize,
      retryDelays: null, // a failure fails the bench rather than hide a retry in the time
      headers: { Authorization: `Bearer ${options.token}` },
      metadata: { filename: options.filename },
      onSuccess: ({ lastResponse }) => {
        const id = lastResponse.getHeader('Media-Id');
        if (id) resolve({ id, ms: since(started) });
        else
          reject(
            new Error(
              `the completing PATCH answered ${lastResponse.getStatus()} without Media-Id: ${lastResponse.getBody()}`,
            ),
          );
      },
      onError: reject,
    }).start(),
  );
}

export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Milliseconds `work` takes. */
export async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await work();
  return since(started);
}

export interface Baseline {
  /** POSTs the file; answers the stored id and the milliseconds taken. */
  upload(path: string): Promise<{ id: string; ms: number }>;
  url(id: string): string;
  remove(id: string): Promise<void>;
  child: ChildProcess;
}

/** Starts bench/baseline-server.js keeping its files under `dir`. */
export async function startBaseline(dir: string): Promise<Baseline> {
  const child = spawn(process.execPath, [join(__dirname, 'baseline-server.js'), dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<string>((resolve) =>
    child.stdout!.once('data', (chunk) => resolve(String(chunk).trim())),
  );
  const base = `http://127.0.0.1:${port}/`;
  return {
    child,
    url: (id) => `${base}${id}`,
    async upload(path) {
      const reply = await postFile(base, path);
      if (reply.status !== 201) throw new Error(`baseline answered ${reply.status}`);
      return { id: JSON.parse(reply.body).id, ms: reply.ms };
    },
    async remove(id) {
      await fetch(`${base}${id}`, { method: 'DELETE' });
    },
  };
}

/** SIGTERM, then the exit (at once if it has exited already). */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

/** Runs a bench's `main`; whatever happens, stops the processes it started and removes its work dir. */
export function runBench(main: () => Promise<void>, cleanup: { children: ChildProcess[]; work: string }): void {
  main()
    .catch((error) => {
      console.error(error);
      process.exitCode = 1;
    })
    .finally(() => {
      for (const child of cleanup.children) child.kill('SIGTERM');
      setTimeout(() => rmSync(cleanup.work, { recursive: true, force: true }), 3000);
    });
}

/**
 * Services started with `envs` (one each) on one PostgreSQL (embedded, started here under
 * `dir`/db) and one DATA_DIR (`dir`/data: the lock there guards an embedded PostgreSQL only,
 * and sharing it gives every service the same development secrets and blobs); `use` gets
 * them and the database server's pid; all are stopped afterwards.
 */
export async function servicesOnOnePostgres<T>(
  dir: string,
  envs: Record<string, string>[],
  children: ChildProcess[],
  use: (services: BenchService[], postmasterPid: number) => Promise<T>,
): Promise<T> {
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o711); // the embedded PostgreSQL (user postgres, when run as root) must enter it
  const database = await startEmbeddedPostgres(join(dir, 'db'), (line) => console.error(`${dir}: ${line}`));
  const services: BenchService[] = [];
  try {
    for (const env of envs) {
      services.push(await startService(join(dir, 'data'), { ...env, DATABASE_URL: database.url }));
      children.push(services[services.length - 1].child);
    }
    const postmaster = Number(readFileSync(join(dir, 'db', 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
    return await use(services, postmaster);
  } finally {
    for (const service of services) await stopChild(service.child);
    await database.stop();
  }
}
