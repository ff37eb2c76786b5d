import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataDirInUseError, lockDataDir } from '../../src/db/data-dir-lock';
import { ROOT, run } from '../support/service-process';
import { waitFor } from '../support/wait';

/** A process that takes the lock of `dir` with the built code, then waits to be killed. */
function holder(dir: string) {
  const lockModule = join(ROOT, 'dist', 'src', 'db', 'data-dir-lock.js');
  const code = `require(${JSON.stringify(lockModule)}).lockDataDir(${JSON.stringify(dir)}).then(() => { console.log('locked'); setInterval(() => {}, 1e6); })`;
  return run(process.execPath, ['-e', code], { env: process.env as Record<string, string> });
}

async function refusal(dir: string): Promise<DataDirInUseError | undefined> {
  const outcome = await lockDataDir(dir).then(
    (lock) => lock.release(),
    (error: unknown) => error,
  );
  return outcome instanceof DataDirInUseError ? outcome : undefined;
}

describe('one owner per DATA_DIR', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'media-test-lock-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it('is refused, naming the pid, while a live process owns it, under any path; free again once that process is killed', async () => {
    const dir = tempDir();
    const owner = holder(dir);
    await waitFor(() => owner.output().includes('locked'));
    const link = join(tempDir(), 'link');
    symlinkSync(dir, link);
    expect((await refusal(dir))?.ownerPid).toBe(owner.child.pid);
    expect((await refusal(link))?.message).toContain(`(pid ${owner.child.pid})`);

    owner.child.kill('SIGKILL'); // no chance to clean up: the kernel releases the lock
    await owner.exited;
    expect(await refusal(dir)).toBeUndefined();
  });

  it('is released by release(), and belongs to one holder at a time within a process too', async () => {
    const dir = tempDir();
    const lock = await lockDataDir(dir);
    expect((await refusal(dir))?.ownerPid).toBe(process.pid);
    await lock.release();
    expect(await refusal(dir)).toBeUndefined();
  });
});
