/**
 * npm run bench:soak [-- --minutes N] [-- --warmup M] — the soak:
 * does the service's memory stay flat under steady traffic? Starts the built service as
 * `npm start` runs it (bench/support.ts) on its embedded defaults, then 6 clients for 12
 * users upload 200 KiB ZIPs of fresh random bytes for N minutes (default 60), download each
 * one in full and delete every second one. Samples the service process's RSS (its anonymous
 * and file-backed parts, and, from /metrics, its V8 heap) every 10 s; prints RSS per
 * minute, the RSS at the end of the warm-up (default minute 2) against the end, the
 * least-squares slope of RSS after the warm-up and over the second half of the run in
 * MB/min, and the counts of requests and errors; writes the same to
 * bench/results/soak.{md,json}. Exits non-zero on any 5xx, or when the service dies.
 * The caches fill for the first minutes (src/common/cache.ts: e.g. 10,000 data keys, one
 * per upload): the second half's slope is the one that must be flat.
 */
import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { rssMb } from './process-stats.js';
import { type BenchService, ROOT, runBench, startService } from './support.js';
import { makeZipBuffer } from './zip-file.js';

const KiB = 1024;
const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const at = args.indexOf(`--${name}`);
  const value = at >= 0 ? Number(args[at + 1]) : NaN;
  return Number.isFinite(value) && value > 0 ? value : fallback;
};
const MINUTES = option('minutes', 60);
const WARMUP = Math.min(option('warmup', 2), MINUTES);
const CLIENTS = 6;
const USERS = 12;
const FILE_BYTES = 200 * KiB;
const SAMPLE_MS = 10_000;
/** Below this slope after warm-up (MB/min), RSS counts as flat: < 6 MB over an hour. */
const FLAT_MB_PER_MIN = 0.1;

const results = join(ROOT, 'bench', 'results');
const work = mkdtempSync(join(tmpdir(), 'media-bench-soak-'));
chmodSync(work, 0o711); // the embedded PostgreSQL (user postgres, when run as root) must enter DATA_DIR below it
const children: ChildProcess[] = [];

type Kind = 'upload' | 'download' | 'delete';
interface Sample {
  /** Seconds since the load started. */
  t: number;
  rss: number;
  /** Of the RSS: anonymous memory (heaps, malloc, wasm) and mapped files (MB). */
  anon?: number;
  file?: number;
  heapUsed?: number;
  external?: number;
}

const counts = {
  requests: { upload: 0, download: 0, delete: 0 } as Record<Kind, number>,
  errors: { upload: 0, download: 0, delete: 0 } as Record<Kind, number>,
  serverErrors: 0,
  /** Uploads completed by minute (index = minute). */
  uploadsByMinute: [] as number[],
  errorsByMinute: [] as number[],
};
const firstErrors: string[] = [];
let started = 0;
const minuteNow = () => Math.min(Math.ceil(MINUTES) - 1, Math.floor((Date.now() - started) / 60_000));

function failed(kind: Kind, what: string, status?: number): void {
  counts.errors[kind]++;
  counts.errorsByMinute[minuteNow()] = (counts.errorsByMinute[minuteNow()] ?? 0) + 1;
  if (status !== undefined && status >= 500) counts.serverErrors++;
  if (firstErrors.length < 10) firstErrors.push(`${new Date().toISOString()} ${kind}: ${what}`);
}

/** A token per user valid for the whole soak (the default hour would run out in a 60-minute one). */
async function mint(dataDir: string, user: string): Promise<string> {
  const ttl = String(Math.min(604_800, Math.ceil(MINUTES * 60 + 1800)));
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [join(ROOT, 'dist', 'scripts', 'token.js'), user, '--ttl', ttl],
    {
      env: { ...process.env, DATA_DIR: dataDir },
    },
  );
  return stdout.trim();
}

/** One client: upload, download in full, delete every second one, until `deadline`. */
async function client(service: BenchService, index: number, tokens: string[], deadline: number): Promise<void> {
  const api = `${service.base}/api/v1/media`;
  for (let n = 0; Date.now() < deadline; n++) {
    // Client i works for users i and i + CLIENTS in turn: at most one upload per user at a time.
    const token = tokens[(index + (n % 2) * CLIENTS) % USERS];
    const auth = { Authorization: `Bearer ${token}` };
    const form = new FormData();
    form.append(
      'file',
      new Blob([makeZipBuffer(FILE_BYTES, randomBytes)], { type: 'application/zip' }),
      `soak-${index}-${n}.zip`,
    );
    counts.requests.upload++;
    let id: string;
    try {
      const reply = await fetch(`${api}/upload`, { method: 'POST', headers: auth, body: form });
      const body = await reply.text();
      if (reply.status !== 201) {
        failed('upload', `${reply.status} ${body.slice(0, 200)}`, reply.status);
        continue;
      }
      id = JSON.parse(body).id;
      counts.uploadsByMinute[minuteNow()] = (counts.uploadsByMinute[minuteNow()] ?? 0) + 1;
    } catch (error) {
      failed('upload', String(error));
      continue;
    }
    counts.requests.download++;
    try {
      const reply = await fetch(`${api}/${id}`, { headers: auth });
      const bytes = (await reply.arrayBuffer()).byteLength;
      if (reply.status !== 200) failed('download', `${reply.status}`, reply.status);
      else if (bytes !== FILE_BYTES) failed('download', `${bytes} bytes instead of ${FILE_BYTES}`);
    } catch (error) {
      failed('download', String(error));
    }
    if (n % 2 === 1) {
      counts.requests.delete++;
      try {
        const reply = await fetch(`${api}/${id}`, { method: 'DELETE', headers: auth });
        await reply.arrayBuffer();
        if (reply.status !== 204) failed('delete', `${reply.status}`, reply.status);
      } catch (error) {
        failed('delete', String(error));
      }
    }
  }
}

/** RssAnon and RssFile of /proc/<pid>/status, MB: whether growth is heap and malloc, or mapped files. */
function rssParts(pid: number): { anon?: number; file?: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => {
    const line = status.split('\n').find((l) => l.startsWith(`${name}:`));
    return line === undefined ? undefined : Number(line.split(/\s+/)[1]) / 1024;
  };
  return { anon: field('RssAnon'), file: field('RssFile') };
}

/** The service's V8 heap figures from its own /metrics (MB), when it answers. */
async function heapOf(service: BenchService): Promise<{ heapUsed?: number; external?: number }> {
  try {
    const text = await (await fetch(`${service.base}/metrics`)).text();
    const metric = (name: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
      return line === undefined ? undefined : Number(line.trim().split(/\s+/).pop()) / (1024 * 1024);
    };
    return {
      heapUsed: metric('media_nodejs_heap_size_used_bytes'),
      external: metric('media_nodejs_external_memory_bytes'),
    };
  } catch {
    return {};
  }
}

/** Least-squares slope of RSS over time, MB per minute. */
function slope(samples: Sample[]): number {
  if (samples.length < 2) return NaN;
  const xs = samples.map((s) => s.t / 60);
  const ys = samples.map((s) => s.rss);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  const num = xs.reduce((sum, x, i) => sum + (x - mx) * (ys[i] - my), 0);
  const den = xs.reduce((sum, x) => sum + (x - mx) ** 2, 0);
  return num / den;
}

const f1 = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '—' : v.toFixed(1));

function report(samples: Sample[], startRss: number): string {
  const rows: string[] = [
    '| minute | RSS at end (MB) | min-max in minute (MB) | of it anon / file (MB) | V8 heap used (MB) | external (MB) | uploads | errors |',
    '|---|---|---|---|---|---|---|---|',
  ];
  rows.push(`| 0 | ${f1(startRss)} | — | — | — | — | — | — |`);
  // A sample belongs to the minute it ends (give or take half a sampling period: the last one comes when the clients stop).
  const minuteOf = (s: Sample) => Math.max(1, Math.ceil((s.t - SAMPLE_MS / 2000) / 60));
  for (let minute = 1; minute <= minuteOf(samples.at(-1)!); minute++) {
    const within = samples.filter((s) => minuteOf(s) === minute);
    if (within.length === 0) continue;
    const last = within.at(-1)!;
    const rss = within.map((s) => s.rss);
    rows.push(
      `| ${minute} | ${f1(last.rss)} | ${f1(Math.min(...rss))}-${f1(Math.max(...rss))} | ${f1(last.anon)} / ${f1(last.file)} | ${f1(last.heapUsed)} | ${f1(last.external)} | ${counts.uploadsByMinute[minute - 1] ?? 0} | ${counts.errorsByMinute[minute - 1] ?? 0} |`,
    );
  }
  const warmupAt = samples.filter((s) => s.t <= WARMUP * 60 + SAMPLE_MS / 2000).at(-1) ?? samples[0];
  const end = samples.at(-1)!;
  const after = samples.filter((s) => s.t >= warmupAt.t);
  const perMin = slope(after);
  const half = samples.filter((s) => s.t >= end.t / 2);
  const verdict = (v: number) => (Math.abs(v) < FLAT_MB_PER_MIN ? 'flat' : v > 0 ? '**growing**' : 'falling');
  const requests = Object.values(counts.requests).reduce((a, b) => a + b, 0);
  const errors = Object.values(counts.errors).reduce((a, b) => a + b, 0);
  const lines = [
    ...rows,
    '',
    `RSS: ${f1(startRss)} MB before the load, ${f1(warmupAt.rss)} MB at minute ${WARMUP} (end of warm-up), ${f1(end.rss)} MB at the end (${f1(end.t / 60)} min): ${end.rss >= warmupAt.rss ? '+' : ''}${f1(end.rss - warmupAt.rss)} MB after warm-up.`,
    `Slope of RSS after warm-up (least squares over ${after.length} samples, one every ${SAMPLE_MS / 1000} s): ${perMin.toFixed(2)} MB/min — ${verdict(perMin)}; over the second half (from minute ${f1((half[0]?.t ?? NaN) / 60)}): ${slope(half).toFixed(2)} MB/min — ${verdict(slope(half))} (flat: |slope| < ${FLAT_MB_PER_MIN} MB/min).`,
    `Requests: ${requests} (${counts.requests.upload} uploads, ${counts.requests.download} downloads, ${counts.requests.delete} deletes); errors: ${errors} (${counts.errors.upload} upload, ${counts.errors.download} download, ${counts.errors.delete} delete), of them 5xx: ${counts.serverErrors}.`,
  ];
  if (firstErrors.length) lines.push('', 'First errors:', ...firstErrors.map((e) => `- ${e}`));
  return lines.join('\n');
}

async function main(): Promise<void> {
  const dataDir = join(work, 'data');
  const service = await startService(dataDir);
  children.push(service.child);
  let died = false;
  service.child.once('exit', (code, signal) => (died = code !== null || signal !== null));
  const tokens = await Promise.all(Array.from({ length: USERS }, (_, i) => mint(dataDir, `soak-user${i}`)));

  const startRss = rssMb(service.pid);
  const samples: Sample[] = [];
  started = Date.now();
  const deadline = started + MINUTES * 60_000;
  const sample = async () => {
    if (died) return;
    try {
      const rss = rssMb(service.pid);
      samples.push({ t: (Date.now() - started) / 1000, rss, ...rssParts(service.pid), ...(await heapOf(service)) });
    } catch {
      died = true;
    }
  };
  const sampler = setInterval(() => {
    void sample().then(() => {
      const last = samples.at(-1);
      if (last && Math.round(last.t) % 60 < SAMPLE_MS / 1000) {
        console.error(
          `minute ${f1(last.t / 60)}: RSS ${f1(last.rss)} MB, ${counts.requests.upload} uploads, ${Object.values(counts.errors).reduce((a, b) => a + b, 0)} errors`,
        );
      }
    });
  }, SAMPLE_MS);
  await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(service, i, tokens, deadline)));
  clearInterval(sampler);
  await sample();

  const title = `media-service soak (node ${process.version}, ${new Date().toISOString()}, ${MINUTES} min, ${CLIENTS} clients, ${USERS} users, ${FILE_BYTES / KiB} KiB ZIPs, warm-up ${WARMUP} min)`;
  const text = `${title}\n\n${samples.length ? report(samples, startRss) : 'no samples'}${died ? '\n\n**The service died during the soak.**' : ''}`;
  console.log(text);
  mkdirSync(results, { recursive: true });
  writeFileSync(join(results, 'soak.md'), `${text}\n`);
  writeFileSync(
    join(results, 'soak.json'),
    JSON.stringify(
      {
        date: new Date().toISOString(),
        node: process.version,
        minutes: MINUTES,
        warmup: WARMUP,
        startRss,
        counts,
        samples,
      },
      null,
      2,
    ),
  );
  if (counts.serverErrors > 0 || died) process.exitCode = 1;
}

runBench(main, { children, work });
