import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort } from '../../common/free-port.js';
import { MediaError } from '../../errors.js';
import { runTool } from '../run-tool.js';

const START_TIMEOUT_MS = 30_000;
const CONVERT_TIMEOUT_MS = 60_000;

/** One configuration value of LibreOffice's registry (officecfg schema path, property, value). */
export interface OfficeSetting {
  path: string;
  name: string;
  value: boolean | number;
}

/**
 * The listener's profile settings. A document may name remote resources (a picture linked
 * by URL, r:link in DOCX): LibreOffice fetches them while rendering unless untrusted links
 * are blocked (checked with LibreOffice 7.4.7: the fetch happens without it and not with
 * it). Macros never run, whatever the document carries.
 */
export const OFFICE_SETTINGS: OfficeSetting[] = [
  { path: '/org.openoffice.Office.Common/Security/Scripting', name: 'BlockUntrustedRefererLinks', value: true },
  { path: '/org.openoffice.Office.Common/Security/Scripting', name: 'DisableMacrosExecution', value: true },
  { path: '/org.openoffice.Office.Common/Security/Scripting', name: 'MacroSecurityLevel', value: 3 },
];

/** A profile's `user/registrymodifications.xcu` holding `settings` (values fused over the defaults). */
export function registryModifications(settings: OfficeSetting[]): string {
  const items = settings.map(
    ({ path, name, value }) =>
      `<item oor:path="${path}"><prop oor:name="${name}" oor:op="fuse"><value>${value}</value></prop></item>`,
  );
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
    ...items,
    '</oor:items>',
    '',
  ].join('\n');
}

/**
 * DOC/DOCX → PDF through one long-lived headless LibreOffice (a listener on 127.0.0.1,
 * started on first use, restarted if it dies), driven by `unoconv --no-launch`: about half
 * a second a file instead of four for a fresh soffice. Conversions run one at a time, the
 * listener being a single process; its private profile lives under `profileDir`, seeded
 * with OFFICE_SETTINGS (no remote resource fetched, no macro run).
 */
export class OfficeConverter {
  private listener?: { process: ChildProcess; port: number; ready: Promise<void> };
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly profileDir: string) {}

  toPdf(input: string, output: string, signal: AbortSignal): Promise<void> {
    const run = this.queue.then(() => this.convert(input, output, signal));
    this.queue = run.catch(() => {});
    return run;
  }

  close(): void {
    const pid = this.listener?.process.pid;
    // soffice is a launcher that starts soffice.bin: the whole process group goes.
    if (pid && this.listener?.process.exitCode === null) killGroup(pid);
    this.listener = undefined;
    rmSync(this.profileDir, { recursive: true, force: true });
  }

  private async convert(input: string, output: string, signal: AbortSignal): Promise<void> {
    const { port } = await this.ensureListener();
    try {
      await runTool('unoconv', ['--no-launch', '--port', String(port), '-f', 'pdf', '-o', output, input], {
        timeoutMs: CONVERT_TIMEOUT_MS,
        signal,
      });
    } catch (error) {
      // The listener may have died or be stuck on this file: the next document gets a fresh one.
      this.close();
      throw error;
    }
  }

  private async ensureListener(): Promise<{ port: number }> {
    if (this.listener && this.listener.process.exitCode === null) {
      await this.listener.ready;
      return this.listener;
    }
    const port = await freePort();
    this.writeProfile();
    const child = spawn(
      'soffice',
      [
        '--headless',
        '--invisible',
        '--nologo',
        '--norestore',
        '--nodefault',
        '--nolockcheck',
        `--accept=socket,host=127.0.0.1,port=${port};urp;`,
        `-env:UserInstallation=file://${this.profileDir}`,
      ],
      { stdio: 'ignore', env: { PATH: '/usr/bin:/bin' }, detached: true },
    );
    child.unref(); // never keeps the process alive by itself
    child.on('error', () => {});
    const ready = waitForPort(port, child);
    this.listener = { process: child, port, ready };
    await ready.catch((error: unknown) => {
      this.close();
      throw new MediaError('DEPENDENCY_UNAVAILABLE', 'The document renderer did not start', {
        retryAfter: 5,
        cause: error,
      });
    });
    return { port };
  }

  /** Seeds the (fresh) profile with OFFICE_SETTINGS before soffice first reads it. */
  private writeProfile(): void {
    const user = join(this.profileDir, 'user');
    mkdirSync(user, { recursive: true, mode: 0o700 });
    writeFileSync(join(user, 'registrymodifications.xcu'), registryModifications(OFFICE_SETTINGS), { mode: 0o600 });
  }
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function waitForPort(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null) return reject(new Error(`soffice exited with ${child.exitCode}`));
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve()));
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) return reject(new Error('soffice did not listen in time'));
        setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}
