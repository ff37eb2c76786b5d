import { readdirSync, readFileSync } from 'node:fs';

/**
 * Kills (SIGKILL) the processes whose command line names a path inside one of `dirs`:
 * the FFmpeg or LibreOffice children of a service process that was killed outright keep
 * running after it, reading and writing in its private directories. Linux /proc only;
 * returns how many were killed.
 */
export function killProcessesUsing(dirs: string[]): number {
  if (!dirs.length) return 0;
  let killed = 0;
  for (const name of safeReaddir('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const args = safeRead(`/proc/${pid}/cmdline`).split('\0');
    // A path inside the directory, or the directory itself at the end of an argument (soffice's -env:UserInstallation=file://…).
    if (!args.some((arg) => dirs.some((dir) => arg.includes(`${dir}/`) || arg.endsWith(dir)))) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed++;
    } catch {
      // gone meanwhile, or not ours to kill
    }
  }
  return killed;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
