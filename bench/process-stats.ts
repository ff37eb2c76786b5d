/** What the benches read about the service process: CPU time, RSS, and a small worker pool. */
import { readdirSync, readFileSync } from 'node:fs';
import { timed } from './support.js';

/** CPU seconds used so far by `pid` and every process below it (the embedded PostgreSQL). */
export function cpuSeconds(pid: number): number {
  const stats = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => {
      try {
        const fields = readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1].split(' ');
        return { pid: Number(name), ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
      } catch {
        return undefined;
      }
    })
    .filter((s): s is { pid: number; ppid: number; ticks: number } => s !== undefined);
  const tree = new Set([pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const s of stats) if (!tree.has(s.pid) && tree.has(s.ppid)) grew = tree.add(s.pid) !== undefined;
  }
  return stats.filter((s) => tree.has(s.pid)).reduce((sum, s) => sum + s.ticks, 0) / 100;
}

export function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS'))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

/** Runs `task` over `items` with at most `concurrency` at once; answers each one's milliseconds. */
export async function pool<T>(
  items: T[],
  concurrency: number,
  task: (item: T, index: number) => Promise<unknown>,
): Promise<number[]> {
  const times: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const index = next++;
        times.push(await timed(() => task(items[index], index)));
      }
    }),
  );
  return times;
}
