import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The built service (npm test builds it first). */
export const ROOT = join(__dirname, '..', '..');
export const MAIN = join(ROOT, 'dist', 'src', 'main.js');

/** The test's environment for the service: embedded defaults, quiet logs, no inherited DATABASE_URL. */
export function serviceEnv(overrides: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    LOG_LEVEL: 'info',
    NODE_ENV: 'development',
    GRPC_PORT: '0',
    ...overrides,
  };
  if (!overrides.DATABASE_URL) delete env.DATABASE_URL;
  return env;
}

export interface Running {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Settles with the exit code (or the signal's name) when the process ends. */
  exited: Promise<number | string>;
}

let runs = 0;

export function run(command: string, args: string[], options: { env: Record<string, string>; cwd?: string }): Running {
  if (!existsSync(MAIN)) throw new Error('dist/ is missing: npm test builds it first (npm run build)');
  const chunks: string[] = [];
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  const log =
    process.env.MEDIA_TEST_LOG_DIR && join(process.env.MEDIA_TEST_LOG_DIR, `process-${process.pid}-${++runs}.log`);
  const keep = (chunk: Buffer) => {
    chunks.push(String(chunk));
    if (log) appendFileSync(log, chunk); // scanned for secrets by the run's teardown
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return { child, output: () => chunks.join(''), exited };
}

/** `node dist/src/main.js` with `env`. */
export function runService(env: Record<string, string>): Running {
  return run(process.execPath, [MAIN], { env });
}

/** Resolves once `url` answers 200 on /health/ready; fails if the process ends first. */
export async function ready(service: Running, base: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (service.child.exitCode !== null || service.child.signalCode !== null)
      throw new Error(`service ended:\n${service.output()}`);
    if (
      await fetch(`${base}/health/ready`).then(
        (r) => r.status === 200,
        () => false,
      )
    )
      return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`service not ready:\n${service.output()}`);
}

/** The pid the service logs when it listens. */
export function servicePid(service: Running): number {
  const match = /listening on http:\/\/localhost:\d+ \(port \d+, pid (\d+)\)/.exec(service.output());
  if (!match) throw new Error(`no pid in the output:\n${service.output()}`);
  return Number(match[1]);
}

/** The embedded PostgreSQL's pid from its postmaster.pid, if the file is there. */
export function postmasterPid(dataDir: string): number | undefined {
  const file = join(dataDir, 'postgres', 'postmaster.pid');
  return existsSync(file) ? Number(readFileSync(file, 'utf8').split('\n')[0]) : undefined;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
