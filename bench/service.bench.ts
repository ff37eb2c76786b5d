/**
 * npm run bench — the fast-path figures of the service, against a freshly started service
 * on its embedded defaults and, where one exists, a bare baseline in the same run:
 * 200 × 1 MiB uploads by 8 users at concurrency 8 (rate, p50, CPU per upload; baseline:
 * bench/baseline-server.ts), the same 200 downloaded at concurrency 8, a 100 MB upload
 * and download, a 1 MB Range at the end of the 100 MB file, small GETs one at a time and
 * at concurrency 16, and peak RSS with 3 uploads + 8 downloads of 100 MB at once.
 * Prints one table and writes it under bench/results/ (JSON and Markdown).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeZipFile } from './zip-file.js';
import { type BenchService, median, postFile, ROOT, startService, timed } from './support.js';

const MB = 1024 * 1024;
const work = mkdtempSync(join(tmpdir(), 'media-bench-service-'));
chmodSync(work, 0o711); // the embedded PostgreSQL (user postgres, when run as root) must enter DATA_DIR below it
const children: ChildProcess[] = [];
const rows: { figure: string; value: string; goal: string }[] = [];
const record = (figure: string, value: string, goal: string) => rows.push({ figure, value, goal });

/** CPU seconds used so far by `pid` and every process below it (the embedded PostgreSQL). */
function cpuSeconds(pid: number): number {
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
  for (let grew = true; grew; ) {
    grew = false;
    for (const s of stats) if (!tree.has(s.pid) && tree.has(s.ppid)) grew = tree.add(s.pid) !== undefined;
  }
  return stats.filter((s) => tree.has(s.pid)).reduce((sum, s) => sum + s.ticks, 0) / 100;
}

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS'))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

/** Runs `tasks` with at most `concurrency` at once; returns each one's milliseconds. */
async function pool<T>(items: T[], concurrency: number, task: (item: T, index: number) => Promise<unknown>): Promise<number[]> {
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

async function download(service: BenchService, token: string, id: string, headers: Record<string, string> = {}): Promise<number> {
  const reply = await fetch(`${service.base}/api/v1/media/${id}`, { headers: { Authorization: `Bearer ${token}`, ...headers } });
  let bytes = 0;
  for await (const chunk of reply.body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.length;
  if (reply.status !== 200 && reply.status !== 206) throw new Error(`download answered ${reply.status}`);
  return bytes;
}

async function startBaseline(): Promise<string> {
  const child = spawn(process.execPath, [join(__dirname, 'baseline-server.js'), work], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const port = await new Promise<string>((resolve) => child.stdout!.once('data', (chunk) => resolve(String(chunk).trim())));
  return `http://127.0.0.1:${port}/`;
}

async function smallUploads(service: BenchService, baseline: string, files: string[], tokens: string[]): Promise<string[]> {
  const ids: string[] = [];
  const cpuBefore = cpuSeconds(service.pid);
  const started = Date.now();
  const times = await pool(files, 8, async (file, i) => {
    const reply = await postFile(`${service.base}/api/v1/media/upload`, file, { token: tokens[i % tokens.length], filename: `f${i}.zip` });
    if (reply.status !== 201) throw new Error(`upload answered ${reply.status}: ${reply.body}`);
    ids[i] = JSON.parse(reply.body).id;
  });
  const rate = files.length / ((Date.now() - started) / 1000);
  const cpuMs = ((cpuSeconds(service.pid) - cpuBefore) * 1000) / files.length;
  const baseStarted = Date.now();
  await pool(files, 8, (file) => postFile(baseline, file));
  const baseRate = files.length / ((Date.now() - baseStarted) / 1000);
  record('200 × 1 MiB uploads, 8 users, c=8: rate', `${rate.toFixed(0)} req/s (baseline ${baseRate.toFixed(0)}, ratio ${(rate / baseRate).toFixed(2)})`, '≥ 2× 26-39 req/s and ≥ baseline');
  record('… p50', `${median(times).toFixed(0)} ms`, '< 80 ms');
  record('… service + database CPU per upload', `${cpuMs.toFixed(1)} ms`, '≤ 12 ms');
  return ids;
}

async function main(): Promise<void> {
  const files = Array.from({ length: 200 }, (_, i) => join(work, `small-${i}.zip`));
  files.forEach((path) => makeZipFile(path, MB, randomBytes));
  const big = join(work, 'big.zip');
  makeZipFile(big, 100 * MB, randomBytes);
  const service = await startService(join(work, 'data'), { MAX_ARCHIVE_BYTES: String(150 * MB), UPLOAD_CONCURRENCY_PER_USER: '16' });
  children.push(service.child);
  const baseline = await startBaseline();
  const tokens = Array.from({ length: 8 }, (_, i) => service.token(`bench${i}`));

  const ids = await smallUploads(service, baseline, files, tokens);

  const downStarted = Date.now();
  await pool(ids, 8, (id, i) => download(service, tokens[i % tokens.length], id));
  record('the same 200 downloaded, c=8', `${(200 / ((Date.now() - downStarted) / 1000)).toFixed(0)} MiB/s`, '≥ 150 MiB/s');

  const up = await postFile(`${service.base}/api/v1/media/upload`, big, { token: tokens[0], filename: 'big.zip' });
  if (up.status !== 201) throw new Error(`100 MB upload answered ${up.status}: ${up.body}`);
  const bigId = JSON.parse(up.body).id;
  const baseBig = await postFile(baseline, big);
  record('100 MB upload', `${(100 / (up.ms / 1000)).toFixed(0)} MB/s (baseline ${(100 / (baseBig.ms / 1000)).toFixed(0)})`, '≥ 150 MB/s');
  const downMs = median(await pool([0, 1, 2], 1, () => download(service, tokens[0], bigId)));
  record('100 MB download', `${(100 / (downMs / 1000)).toFixed(0)} MB/s`, '≥ 300 MB/s');
  const size = 100 * MB;
  const rangeMs = await pool(Array.from({ length: 30 }), 1, () => download(service, tokens[0], bigId, { Range: `bytes=${size - MB}-` }));
  record('1 MB Range at the end of 100 MB, p50', `${median(rangeMs).toFixed(1)} ms`, '< 10 ms');

  const metadata = () => fetch(`${service.base}/api/v1/media/${ids[0]}/metadata`, { headers: { Authorization: `Bearer ${tokens[0]}` } }).then((r) => r.arrayBuffer());
  const one = await pool(Array.from({ length: 200 }), 1, metadata);
  record('GET metadata one at a time, p50', `${median(one).toFixed(1)} ms`, '< 3 ms');
  const burstStarted = Date.now();
  await pool(Array.from({ length: 2000 }), 16, metadata);
  record('GET metadata at c=16', `${(2000 / ((Date.now() - burstStarted) / 1000)).toFixed(0)} req/s`, '≥ 2,000 req/s');

  let peak = rssMb(service.pid);
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(service.pid))), 20);
  await Promise.all([
    ...[1, 2, 3].map((i) => postFile(`${service.base}/api/v1/media/upload`, big, { token: tokens[i], filename: 'big.zip' })),
    ...Array.from({ length: 8 }, () => download(service, tokens[0], bigId)),
  ]);
  clearInterval(sampler);
  record('peak RSS, 3 × 100 MB up + 8 × 100 MB down', `${peak.toFixed(0)} MB`, '< 300 MB');

  const table = ['| figure | measured | goal |', '|---|---|---|', ...rows.map((r) => `| ${r.figure} | ${r.value} | ${r.goal} |`)].join('\n');
  console.log(`media-service benchmark (node ${process.version}, ${new Date().toISOString()}, one run)\n${table}`);
  const results = join(ROOT, 'bench', 'results');
  mkdirSync(results, { recursive: true });
  writeFileSync(join(results, 'service.json'), JSON.stringify({ date: new Date().toISOString(), rows }, null, 2));
  writeFileSync(join(results, 'service.md'), `${table}\n`);
}

main()
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const child of children) child.kill('SIGTERM');
    setTimeout(() => rmSync(work, { recursive: true, force: true }), 3000);
  });
