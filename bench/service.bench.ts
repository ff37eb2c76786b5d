/**
 * npm run bench [-- --runs N] [-- --profile] — the fast-path figures (bench/figures.ts) against a
 * freshly started service on its embedded defaults and, in the same run, the bare
 * baseline (bench/baseline-server.ts: hash + seal + write + fsync on upload, read +
 * decrypt on download, no framework, database or auth). Each run (default 3) measures:
 * 200 × 1 MiB uploads by 8 users at concurrency 8, 5 MB and 100 MB uploads, the 200 and
 * the 100 MB file downloaded, a 1 MB Range at the end of it, small GETs (metadata, a
 * 10 KB file, a preview) one at a time and at concurrency 16, peak RSS with 3 uploads
 * + 8 downloads of 100 MB at once, the 100 MB file by tus (6 MiB chunks) against a multipart
 * upload just before it, and 50 × 1 MiB uploads one at a time through fetch (one kept-alive
 * connection) and through curl (a process and a connection each); then the blocklist at 1M
 * entries (bench:hash) and processing against the bare tools (bench:process), each run as
 * its own process `runs` times. Prints one table
 * (median, min-max, baseline, goal) and writes it to bench/results/service.{json,md};
 * --profile adds one more run through a service under `--cpu-prof` (bench/results/profile/)
 * and where its busy time went (that run's figures are not in the table).
 *
 * --driver s3: the same runs again against a second service on STORAGE_DRIVER=s3 and a real
 * S3 server (s3rver, bench/s3rver.ts), after the local one; one table with both side by
 * side (bench/results/service-s3.{json,md}). --replicas: the 200 small uploads through one
 * service process, then split between two, on one PostgreSQL and one DATA_DIR (REPLICA_FIGURES).
 */
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { cpuSeconds, pool, rssMb } from './process-stats.js';
import { summarizeNewest } from './profile-summary.js';
import { type Fixtures, makeFixtures } from './fixtures.js';
import { measureReplicas } from './replicas.js';
import { client, drain } from './service-client.js';
import { startS3rver } from './s3rver.js';
import {
  type Baseline,
  type BenchService,
  curlFile,
  fetchFile,
  median,
  ROOT,
  startBaseline,
  startService,
  runBench,
  stopChild,
  timed,
  type Transport,
} from './support.js';
import { measureBlocklist, measureProcessing } from './sub-benches.js';
import {
  BLOCKLIST_FIGURES,
  driversTableOf,
  FIGURES,
  type Measured,
  PROCESSING_FIGURES,
  REPLICA_FIGURES,
  tableOf,
  TRACING_FIGURES,
} from './figures.js';
import { measureTracing } from './tracing-cost.js';

const MB = 1024 * 1024;
const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) || 3;
const profile = args.includes('--profile');
const driver = args.includes('--driver') ? args[args.indexOf('--driver') + 1] : 'local';
const replicas = args.includes('--replicas');
/** Besides startService's: room for the 100 MB ZIP, and 8 users' uploads at c=16 (the replicas' load) without a 429. */
const SERVICE_ENV = { MAX_ARCHIVE_BYTES: String(150 * MB), UPLOAD_CONCURRENCY_PER_USER: '16' };
const results = join(ROOT, 'bench', 'results');
const work = mkdtempSync(join(tmpdir(), 'media-bench-service-'));
chmodSync(work, 0o711); // the embedded PostgreSQL (user postgres, when run as root) must enter DATA_DIR below it
const children: ChildProcess[] = [];

/** The media every run reads: a 10 KB file, an image with previews, their owner's token, a grantee's signed URL. */
interface Fixed {
  tenKb: string;
  image: string;
  token: string;
  signedTenKb: string;
}

async function oneRun(
  run: number,
  service: BenchService,
  baseline: Baseline,
  files: Fixtures,
  fixed: Fixed,
): Promise<Measured> {
  const api = client(service);
  const m: Measured = {};
  const tokens = Array.from({ length: 8 }, (_, i) => service.token(`run${run}-user${i}`));

  const cpuBefore = cpuSeconds(service.pid);
  let started = Date.now();
  const ids: string[] = [];
  const upTimes = await pool(
    files.small,
    8,
    async (file, i) => (ids[i] = (await api.upload(file, tokens[i % 8], `f${i}.zip`)).id),
  );
  m.smallUploadRate = files.small.length / ((Date.now() - started) / 1000);
  m.smallUploadCpu = ((cpuSeconds(service.pid) - cpuBefore) * 1000) / files.small.length;
  m.smallUploadP50 = median(upTimes);
  started = Date.now();
  const baseIds: string[] = [];
  await pool(files.small, 8, async (file, i) => (baseIds[i] = (await baseline.upload(file)).id));
  m['smallUploadRate:baseline'] = files.small.length / ((Date.now() - started) / 1000);

  started = Date.now();
  await pool(ids, 8, (id, i) => api.get(id, tokens[i % 8]));
  m.smallDownload = 200 / ((Date.now() - started) / 1000);
  started = Date.now();
  await pool(baseIds, 8, (id) => drain(baseline.url(id)));
  m['smallDownload:baseline'] = 200 / ((Date.now() - started) / 1000);

  const five: number[] = [];
  const fiveBase: number[] = [];
  for (let i = 0; i < 5; i++) {
    const up = await api.upload(files.five, tokens[0], 'five.zip'); // interleaved: both see the same machine load
    five.push(up.ms);
    await api.remove(up.id, tokens[0]);
    const base = await baseline.upload(files.five);
    fiveBase.push(base.ms);
    await baseline.remove(base.id);
  }
  m.fiveUploadRatio = median(fiveBase) / median(five);

  const big = await api.upload(files.big, tokens[0], 'big.zip');
  m.bigUpload = 100 / (big.ms / 1000);
  const bigBase = await baseline.upload(files.big);
  m['bigUpload:baseline'] = 100 / (bigBase.ms / 1000);
  m.bigDownload = 100 / (median(await pool([0, 1, 2], 1, () => api.get(big.id, tokens[0]))) / 1000);
  m['bigDownload:baseline'] = 100 / (median(await pool([0, 1, 2], 1, () => drain(baseline.url(bigBase.id)))) / 1000);
  const range = { Range: `bytes=${100 * MB - 2 * MB}-${99 * MB - 1}` };
  m.rangeP50 = median(await pool(Array.from({ length: 30 }), 1, () => api.get(big.id, tokens[0], range)));
  m['rangeP50:baseline'] = median(
    await pool(Array.from({ length: 30 }), 1, () => drain(baseline.url(bigBase.id), range)),
  );

  const small = {
    metadata: [`${ids[0]}/metadata`, tokens[0]],
    tenKb: [fixed.tenKb, fixed.token],
    preview: [`${fixed.image}/preview?size=256`, fixed.token],
  };
  const tenKbBase = await baseline.upload(files.tenKb);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  for (const [name, [path, token]] of Object.entries(small)) {
    const get = () => api.get(path, token);
    m[`${name}P50`] = median(await pool(Array.from({ length: 300 }), 1, get));
    // At c=16 the load client shares the two cores: through fetch (the goal's figure), then node:http, each with the client's own CPU per GET.
    for (const [suffix, getOne] of [
      ['', get],
      ['Http', () => api.getThrough(agent, path, token)],
    ] as const) {
      const [cpuBefore, startedAt] = [process.cpuUsage(), Date.now()];
      await pool(Array.from({ length: 2000 }), 16, getOne);
      m[`${name}Rate${suffix}`] = 2000 / ((Date.now() - startedAt) / 1000);
      const cpu = process.cpuUsage(cpuBefore);
      m[`${name}ClientUs${suffix}`] = (cpu.user + cpu.system) / 2000;
    }
  }
  agent.destroy();
  // The same file by a grantee through a signed URL (token check, grant lookup), against the owner's figure of this run.
  started = Date.now();
  await pool(Array.from({ length: 2000 }), 16, () => drain(fixed.signedTenKb));
  m.signedTenKbRate = 2000 / ((Date.now() - started) / 1000);
  m['signedTenKbRate:baseline'] = m.tenKbRate;
  m['tenKbP50:baseline'] = median(await pool(Array.from({ length: 300 }), 1, () => drain(baseline.url(tenKbBase.id))));
  started = Date.now();
  await pool(Array.from({ length: 2000 }), 16, () => drain(baseline.url(tenKbBase.id)));
  m['tenKbRate:baseline'] = 2000 / ((Date.now() - started) / 1000);

  let peak = rssMb(service.pid);
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(service.pid))), 20);
  const loaded = await Promise.all([
    ...[1, 2, 3].map((i) => api.upload(files.big, tokens[i], 'big.zip')),
    ...Array.from({ length: 8 }, () => api.get(big.id, tokens[0])),
  ]);
  clearInterval(sampler);
  m.peakRss = peak;

  // Three videos at once whose stored version is made during the upload (a remux): streamed from file to store, never whole in memory.
  let videoPeak = rssMb(service.pid);
  const videoSampler = setInterval(() => (videoPeak = Math.max(videoPeak, rssMb(service.pid))), 20);
  const videos = await Promise.all([4, 5, 6].map((i) => api.upload(files.video, tokens[i], 'video.mp4')));
  clearInterval(videoSampler);
  m.videoPeakRss = videoPeak;
  for (const [i, video] of videos.entries()) await api.remove(video.id, tokens[i + 4]);

  // The 100 MB file by tus in 6 MiB chunks against a multipart upload just before it, each by a user new to the service (no duplicate).
  const [multipartUser, tusUser] = ['multipart', 'tus'].map((label) => service.token(`run${run}-${label}`));
  const multipart = await api.upload(files.big, multipartUser, 'big.zip');
  const tus = await api.tus(readFileSync(files.big), tusUser, 'big.zip');
  m.tusBigUpload = 100 / (tus.ms / 1000);
  m['tusBigUpload:baseline'] = 100 / (multipart.ms / 1000);
  m.tusBigRatio = multipart.ms / tus.ms;
  await api.remove(multipart.id, multipartUser);
  await api.remove(tus.id, tusUser);

  // 50 × 1 MiB one at a time through fetch, then curl, each by a user new to the service (50 different files: no duplicate).
  const sequential: { id: string; token: string }[] = [];
  const oneAtATime = async (label: string, via: Transport) => {
    const token = service.token(`run${run}-${label}`);
    const ms = await timed(() =>
      pool(files.small.slice(0, 50), 1, async (file, i) =>
        sequential.push({ id: (await api.upload(file, token, `f${i}.zip`, via)).id, token }),
      ),
    );
    return 50 / (ms / 1000);
  };
  m.fetchUploadRate = await oneAtATime('fetch', fetchFile);
  m.curlUploadRate = await oneAtATime('curl', curlFile);
  m.fetchVsCurl = m.fetchUploadRate / m.curlUploadRate;
  await pool(sequential, 8, ({ id, token }) => api.remove(id, token));

  // Leave the service as it was: the next run starts from the same state.
  await pool(
    [...ids.map((id, i) => ({ id, token: tokens[i % 8] })), { id: big.id, token: tokens[0] }],
    8,
    ({ id, token }) => api.remove(id, token),
  );
  for (const [i, up] of loaded.slice(0, 3).entries())
    if (typeof up === 'object') await api.remove(up.id, tokens[i + 1]);
  await pool([...baseIds, bigBase.id, tenKbBase.id], 8, (id) => baseline.remove(id));
  return m;
}

/**
 * A service on `storage` (its environment; {} for the local driver) under its own DATA_DIR,
 * measured `runs` times, then stopped. With --profile, one more run of the same work through
 * a second service under `--cpu-prof` says where the busy time went; its figures are not
 * kept (the profiler's own cost would count against the goals).
 */
async function measureService(
  name: string,
  storage: Record<string, string>,
  files: Fixtures,
  baseline: Baseline,
): Promise<{ measured: Measured[]; profiled?: string }> {
  const measured: Measured[] = [];
  await withService(`data-${name}`, storage, [], files, async (service, fixed) => {
    for (let run = 0; run < runs; run++) {
      measured.push(await oneRun(run, service, baseline, files, fixed));
      console.error(`${name === 'local' ? '' : `${name}: `}run ${run + 1} of ${runs} done`);
    }
  });
  if (!profile) return { measured };
  const profileDir = join(results, 'profile');
  let measuredFrom = 0;
  await withService(
    `data-${name}-profiled`,
    storage,
    ['--cpu-prof', '--cpu-prof-dir', profileDir],
    files,
    async (service, fixed) => {
      measuredFrom = Number(process.hrtime.bigint() / 1000n);
      await oneRun(runs, service, baseline, files, fixed);
      console.error(`${name === 'local' ? '' : `${name}: `}profiled run done`);
    },
  );
  return { measured, profiled: summarizeNewest(profileDir, measuredFrom) };
}

/** Starts a service under `dataDir` with the fixed media every run reads, hands both to `use`, then stops it. */
async function withService(
  dataDir: string,
  storage: Record<string, string>,
  nodeArgs: string[],
  files: Fixtures,
  use: (service: BenchService, fixed: Fixed) => Promise<void>,
): Promise<void> {
  const service = await startService(join(work, dataDir), { ...SERVICE_ENV, ...storage }, nodeArgs);
  children.push(service.child);
  const api = client(service);
  const token = service.token('bench-fixed');
  const tenKb = (await api.upload(files.tenKb, token, 'ten.zip')).id;
  const image = (await api.upload(files.image, token, 'image.jpg')).id;
  // A grantee of the 10 KB file (as messaging-service grants it) and their signed URL to it.
  service.rpc('GrantAccess', {
    acting_user_id: 'bench-fixed',
    media_ids: [tenKb],
    conversation_id: 'bench',
    user_ids: ['bench-grantee'],
  });
  const minted = await fetch(`${service.base}/api/v1/media/${tenKb}/signed-url`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${service.token('bench-grantee')}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ expiresIn: 86400, variant: 'original' }),
  });
  if (minted.status !== 201) throw new Error(`signed-url answered ${minted.status}`);
  const signedTenKb = `${service.base}${((await minted.json()) as { url: string }).url}`;
  try {
    await use(service, { tenKb, image, token, signedTenKb });
  } finally {
    await stopChild(service.child);
  }
}

async function main(): Promise<void> {
  if (driver !== 'local' && driver !== 's3') throw new Error(`--driver ${driver}: local or s3`);
  const files = await makeFixtures(work);
  if (profile) mkdirSync(join(results, 'profile'), { recursive: true });
  const baseline = await startBaseline(work);
  children.push(baseline.child);
  const local = await measureService('local', {}, files, baseline);
  const json: Record<string, unknown> = { runs: local.measured };
  let table = [tableOf(FIGURES, local.measured), local.profiled].filter(Boolean).join('\n\n');
  let about = '';
  if (driver === 's3') {
    const objects = join(work, 's3rver');
    mkdirSync(objects);
    const s3 = await startS3rver(objects);
    children.push(s3.child);
    await s3.client.send(new CreateBucketCommand({ Bucket: 'bench' }));
    const other = await measureService('s3', s3.env('bench'), files, baseline);
    await s3.stop();
    json.s3Runs = other.measured;
    about = ', STORAGE_DRIVER=local, then s3 against s3rver, each service on its own embedded PostgreSQL';
    const profiles = profile ? [`local: ${local.profiled}`, `s3: ${other.profiled}`] : [];
    table = [driversTableOf(FIGURES, local.measured, other.measured, 's3'), ...profiles].join('\n\n');
  }
  const tracing = await measureTracing(files.small, work, children, runs, SERVICE_ENV);
  json.tracingRuns = tracing;
  table += `\n\nTracing on against off (two processes on one embedded PostgreSQL, interleaved):\n\n${tableOf(TRACING_FIGURES, tracing)}`;
  const blocklist = await measureBlocklist(runs);
  json.blocklistRuns = blocklist;
  table += `\n\nThe blocklist at 1,000,000 entries (bench:hash, each run its own process):\n\n${tableOf(BLOCKLIST_FIGURES, blocklist)}`;
  const processing = await measureProcessing(runs);
  json.processingRuns = processing;
  table += `\n\nProcessing against the bare tools (bench:process, each run its own service):\n\n${tableOf(PROCESSING_FIGURES, processing)}`;
  if (replicas) {
    const measured = await measureReplicas(files.small, {
      dir: join(work, 'replicas'),
      env: SERVICE_ENV,
      children,
      runs,
    });
    json.replicaRuns = measured;
    table += `\n\nTwo replicas against one (local driver, one DATA_DIR, one embedded PostgreSQL through DATABASE_URL):\n\n${tableOf(REPLICA_FIGURES, measured)}`;
  }
  const title = `media-service benchmark (node ${process.version}, ${new Date().toISOString()}, median of ${runs} runs${about})`;
  console.log(`${title}\n\n${table}`);
  const name = driver === 's3' ? 'service-s3' : 'service';
  mkdirSync(results, { recursive: true });
  writeFileSync(
    join(results, `${name}.json`),
    JSON.stringify({ date: new Date().toISOString(), node: process.version, ...json }, null, 2),
  );
  writeFileSync(join(results, `${name}.md`), `${title}\n\n${table}\n`);
}

runBench(main, { children: children, work });
