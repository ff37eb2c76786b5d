import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/** When process `pid` started (clock ticks since boot, /proc/<pid>/stat field 22), or undefined off Linux or when it is gone. */
function startTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count after its end.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * This process's tag, `host_pid_start`: recorded on what the process holds in shared places
 * (its temp directories, quota reservations, the jobs it runs) so that whoever finds them
 * later can tell a live owner from a dead one. The start time tells a pid reused by another
 * process (a restarted container's pid 1) from the one that wrote the tag.
 */
export const PROCESS_TAG = `${hostname()}_${process.pid}_${startTicks(process.pid) ?? 'x'}`;

/**
 * Whether the process of `tag` (this module's format, optionally followed by `_<more>`) is
 * known to be gone: on this host, its pid no longer runs, or runs another process. A process
 * of another host cannot be checked from here: false.
 */
export function isProcessGone(tag: string): boolean {
  const [host, pidText, start] = tag.split('_');
  if (host !== hostname()) return false;
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
  const now = startTicks(pid);
  return now !== undefined && start !== 'x' && now !== start;
}
