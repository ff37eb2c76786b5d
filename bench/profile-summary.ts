/**
 * Reads a V8 `.cpuprofile` (node --cpu-prof) and answers where the busy time went: self
 * time grouped by package (`node_modules/<name>`), by our own source file, or by V8's
 * buckets ((garbage collector), (program)), as shares of the non-idle time. Time spent in
 * Node's internals or native code is charged to the nearest caller that is a package or
 * ours (`crypto` called by our sealing transform counts as that transform).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** What a frame is charged to: a package, a file of ours, node's internals, or a V8 bucket. */
export function bucketOf(url: string, functionName: string): string {
  if (!url)
    return functionName === '(root)'
      ? '(I/O callbacks and native code with no JS caller)'
      : functionName.startsWith('(')
        ? functionName
        : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const ours = /\/dist\/(.+)$/.exec(url);
  return ours ? ours[1] : url;
}

/**
 * The `top` buckets by share of busy time; `fromMicros` (the monotonic clock in µs, as
 * `process.hrtime.bigint() / 1000n` reads it in any process) skips what came before, e.g. start-up.
 */
export function summarizeProfile(path: string, top = 15, fromMicros = 0): { bucket: string; share: number }[] {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const own = new Map(profile.nodes.map((n) => [n.id, bucketOf(n.callFrame.url, n.callFrame.functionName)]));
  const charged = (id: number): string => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const bucket = own.get(at)!;
      if (!bucket.startsWith('node:') && bucket !== '(native)') return bucket;
    }
    return own.get(id)!;
  };
  const bucketById = new Map(profile.nodes.map((n) => [n.id, charged(n.id)]));
  const time = new Map<string, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    if (at < fromMicros) return;
    const bucket = bucketById.get(id)!;
    time.set(bucket, (time.get(bucket) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  time.delete('(idle)');
  const busy = [...time.values()].reduce((a, b) => a + b, 0);
  return [...time.entries()]
    .map(([bucket, us]) => ({ bucket, share: us / busy }))
    .sort((a, b) => b.share - a.share)
    .slice(0, top);
}

/** The table of where the busy time went, from the newest main-thread profile in `dir` (from `fromMicros` on). */
export function summarizeNewest(dir: string, fromMicros: number): string {
  // CPU.<date>.<time>.<pid>.<thread>.<n>.cpuprofile: thread 0 is the main thread (the hash thread writes its own).
  const newest = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile') && f.split('.')[4] === '0')
    .sort()
    .pop()!;
  const lines = summarizeProfile(join(dir, newest), 20, fromMicros).map(
    (b) => `| ${b.bucket} | ${(b.share * 100).toFixed(1)} % |`,
  );
  return [
    `CPU profile of the service during one more run of the same work, whose figures are not in the table (${join(dir, newest)}): self time by package or file (node internals and native code charged to their caller), share of busy time:`,
    '',
    '| where | share |',
    '|---|---|',
    ...lines,
  ].join('\n');
}
