import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/common/free-port';
import { isAlive, postmasterPid, ready, ROOT, run, serviceEnv, servicePid } from '../support/service-process';
import { waitFor } from '../support/wait';

/**
 * `npm start` as an operator or a container runs it, signalled the way a process manager
 * signals: the npm process it started. It runs in a copy of the project (node_modules
 * linked), because its build replaces dist/, which the other end-to-end tests run from.
 */
describe('npm start', () => {
  const project = mkdtempSync(join(tmpdir(), 'media-test-npm-'));
  const dataDir = mkdtempSync(join(tmpdir(), 'media-test-npm-data-'));
  const leftovers: number[] = [];

  beforeAll(() => {
    for (const entry of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'scripts', 'bench', 'prisma']) {
      cpSync(join(ROOT, entry), join(project, entry), { recursive: true });
    }
    symlinkSync(join(ROOT, 'node_modules'), join(project, 'node_modules'));
  });
  afterAll(() => {
    for (const pid of leftovers) if (isAlive(pid)) process.kill(pid, 'SIGKILL'); // only if a test failed
    const postmaster = postmasterPid(dataDir);
    if (postmaster && isAlive(postmaster)) process.kill(postmaster, 'SIGINT');
    rmSync(project, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function signalNpmStart(signal: NodeJS.Signals): Promise<string> {
    const port = await freePort();
    const npm = run('npm', ['start'], { cwd: project, env: serviceEnv({ DATA_DIR: dataDir, PORT: String(port) }) });
    leftovers.push(npm.child.pid!);
    await ready(npm, `http://127.0.0.1:${port}`, 240_000); // the first start builds: minutes on a loaded machine
    const node = servicePid(npm);
    // V8's flags of docs/configuration.md ("Outside the service"), as the image's CMD has them.
    const argv = readFileSync(`/proc/${node}/cmdline`, 'utf8').split('\0');
    expect(argv).toEqual(expect.arrayContaining(['--max-semi-space-size=4', '--no-memory-reducer']));
    // ... and glibc's malloc settings of the same section, as the image's ENV has them.
    const environ = readFileSync(`/proc/${node}/environ`, 'utf8').split('\0');
    expect(environ).toEqual(
      expect.arrayContaining([
        'MALLOC_ARENA_MAX=2',
        'MALLOC_MMAP_THRESHOLD_=33554432',
        'MALLOC_TRIM_THRESHOLD_=268435456',
      ]),
    );
    const postmaster = postmasterPid(dataDir)!;
    leftovers.push(node);
    expect(isAlive(postmaster)).toBe(true);

    npm.child.kill(signal);
    await npm.exited;
    await waitFor(() => !isAlive(node) && !isAlive(postmaster), 10_000).catch(() => {
      throw new Error(
        `after ${signal} to npm: node alive ${isAlive(node)}, PostgreSQL alive ${isAlive(postmaster)}\n${npm.output()}`,
      );
    });
    expect(existsSync(join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false); // a clean PostgreSQL shutdown
    expect(npm.output()).toContain(`${signal}: shutting down`);
    expect(npm.output()).toContain(`listening on http://localhost:${port} `);
    expect(npm.output()).not.toContain('Prisma schema loaded');
    return npm.output();
  }

  it('stops the service and its database on SIGTERM to npm', async () => {
    await signalNpmStart('SIGTERM');
  }, 300_000);

  it('stops the service and its database on SIGINT to npm', async () => {
    // The copy was built by the first start: nothing changed since, so nothing is rebuilt.
    const stamp = statSync(join(project, 'dist', '.built')).mtimeMs;
    const output = await signalNpmStart('SIGINT');
    expect(output).not.toContain('building:');
    expect(statSync(join(project, 'dist', '.built')).mtimeMs).toBe(stamp);
  }, 300_000);
});
