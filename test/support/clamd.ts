/**
 * A real clamd for tests: its own temp dir and config, the EICAR-only database in
 * test/fixtures/clamav, TCP on 127.0.0.1 and a unix socket. Limits are small so a test can
 * exceed each one cheaply, and AlertExceedsMax / AlertEncrypted make clamd say so instead
 * of answering OK.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/common/free-port';
import { ClamdScanner } from '../../src/moderation/clamav';

const CLAMD = '/usr/sbin/clamd';
const DATABASE = join(__dirname, '..', 'fixtures', 'clamav');

/**
 * The limits written to clamd.conf (sizes in bytes, MaxScanTime in ms), small enough for a
 * test to pass each one cheaply; AlertExceedsMax turns each into a Heuristics.Limits signature.
 */
export const CLAMD_LIMITS = {
  StreamMaxLength: 8 << 20,
  MaxFileSize: 4 << 20,
  MaxScanSize: 16 << 20,
  MaxRecursion: 5,
  MaxScanTime: 30_000,
};

export interface Clamd {
  url: string;
  socketPath: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts clamd and resolves once it answers PING; `options` adds or overrides clamd.conf lines. */
export async function startClamd(options: Record<string, string | number> = {}): Promise<Clamd> {
  if (!existsSync(CLAMD))
    throw new Error(`${CLAMD} is missing: install the Debian package clamav-daemon (apt-get install clamav-daemon)`);
  const dir = mkdtempSync(join(tmpdir(), 'media-test-clamd-'));
  const port = await freePort();
  const socketPath = join(dir, 'clamd.sock');
  const config = {
    Foreground: 'yes',
    TCPAddr: '127.0.0.1',
    TCPSocket: port,
    LocalSocket: socketPath,
    DatabaseDirectory: DATABASE,
    TemporaryDirectory: dir,
    ...CLAMD_LIMITS,
    AlertExceedsMax: 'yes',
    AlertEncrypted: 'yes',
    ScanPDF: 'yes',
    ScanArchive: 'yes',
    ...options,
  };
  const conf = join(dir, 'clamd.conf');
  writeFileSync(
    conf,
    Object.entries(config)
      .map(([key, value]) => `${key} ${value}\n`)
      .join(''),
  );
  const output: string[] = [];
  const child = spawn(CLAMD, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (chunk) => output.push(String(chunk)));
  child.stderr!.on('data', (chunk) => output.push(String(chunk)));
  child.once('error', (error) => output.push(String(error)));
  const stop = () => stopProcess(child).finally(() => rmSync(dir, { recursive: true, force: true }));
  const url = `tcp://127.0.0.1:${port}`;
  try {
    await untilPong(new ClamdScanner(url), child);
  } catch (error) {
    await stop();
    throw new Error(`clamd did not start (${(error as Error).message}):\n${output.join('').slice(-4000)}`, {
      cause: error,
    });
  }
  return { url, socketPath, pid: child.pid!, stop };
}

async function untilPong(scanner: ClamdScanner, child: ChildProcess, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await scanner.ping(500))) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`exited with ${child.exitCode ?? child.signalCode}`);
    if (Date.now() > deadline) throw new Error(`no PONG in ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** SIGTERM to its pid (ChildProcess.kill), SIGKILL if it is still there after 5 s. */
async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
