/**
 * npm run bench:upload — uploads a 100 MB ZIP and a 5 MB ZIP (formats that need no
 * processing) to the built service on its embedded defaults, and in the same run the same
 * bytes to a bare Node server doing HTTP + SHA-256 + MD5 + AES-256-GCM + write + fsync
 * (bench/baseline-server.ts), and to the same service hashing on its main thread
 * (HASH_IN_WORKER=false). Prints throughputs, their ratio, and the service's peak RSS
 * during 3 concurrent 100 MB uploads. Goal: ratio >= 0.7, RSS < 300 MB.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BenchService, median, postFile, startBaseline, startService, runBench } from './support.js';
import { makeZipFile } from './zip-file.js';

const MB = 1024 * 1024;
const work = mkdtempSync(join(tmpdir(), 'media-bench-'));
chmodSync(work, 0o711); // the embedded PostgreSQL (user postgres, when run as root) must enter DATA_DIR below it
const children: ChildProcess[] = [];

function rssMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(field))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

async function main(): Promise<void> {
  const big = join(work, 'big.zip');
  const small = join(work, 'small.zip');
  makeZipFile(big, 100 * MB, randomBytes);
  makeZipFile(small, 5 * MB, randomBytes);
  const service = await startService(join(work, 'data'), { MAX_ARCHIVE_BYTES: String(150 * MB) });
  children.push(service.child);
  // The same service hashing on its main thread: what the hash thread is measured against.
  const oneThread = await startService(join(work, 'data-one-thread'), {
    MAX_ARCHIVE_BYTES: String(150 * MB),
    HASH_IN_WORKER: 'false',
  });
  children.push(oneThread.child);
  const baseline = await startBaseline(work);
  children.push(baseline.child);
  const users = ['bench1', 'bench2', 'bench3'].map(service.token);
  const oneThreadUser = oneThread.token('bench1');

  const uploadOnce = async (target: BenchService, path: string, userToken: string) => {
    const reply = await postFile(`${target.base}/api/v1/media/upload`, path, {
      token: userToken,
      filename: 'bench.zip',
    });
    if (reply.status !== 201) throw new Error(`upload answered ${reply.status}: ${reply.body}`);
    const { id } = JSON.parse(reply.body);
    await fetch(`${target.base}/api/v1/media/${id}`, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${userToken}` },
    });
    return reply.ms;
  };
  const serviceOnce = (path: string, userToken = users[0]) => uploadOnce(service, path, userToken);
  const baselineOnce = async (path: string) => {
    const { id, ms } = await baseline.upload(path);
    await baseline.remove(id);
    return ms;
  };

  const rows: string[] = [];
  for (const [label, path, runs] of [
    ['100 MB', big, 5],
    ['5 MB', small, 15],
  ] as const) {
    await serviceOnce(path);
    await uploadOnce(oneThread, path, oneThreadUser);
    await baselineOnce(path); // warm-up
    const serviceMs: number[] = [];
    const oneThreadMs: number[] = [];
    const baselineMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      // Interleaved, so all see the same machine load.
      serviceMs.push(await serviceOnce(path));
      oneThreadMs.push(await uploadOnce(oneThread, path, oneThreadUser));
      baselineMs.push(await baselineOnce(path));
    }
    const size = statSync(path).size / MB;
    const rate = (ms: number[]) => size / (median(ms) / 1000);
    const [s, one, b] = [rate(serviceMs), rate(oneThreadMs), rate(baselineMs)];
    rows.push(
      `${label.padEnd(7)} service ${s.toFixed(0).padStart(5)} MB/s (hashing on the main thread: ${one.toFixed(0)})   baseline ${b.toFixed(0).padStart(5)} MB/s   ratio ${(s / b).toFixed(2)}   (median of ${runs})`,
    );
  }

  let peak = rssMb(service.pid, 'VmRSS');
  const before = peak;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(service.pid, 'VmRSS'))), 20);
  const started = Date.now();
  await Promise.all(users.map((userToken) => serviceOnce(big, userToken)));
  clearInterval(sampler);
  const seconds = (Date.now() - started) / 1000;

  console.log('media-service upload benchmark (node ' + process.version + ')');
  for (const row of rows) console.log(row);
  console.log(
    `3 x 100 MB concurrent: ${(300 / seconds).toFixed(0)} MB/s aggregate; service RSS ${before.toFixed(0)} MB before, peak ${peak.toFixed(0)} MB during (goal < 300 MB)`,
  );
}

runBench(main, { children: children, work });
