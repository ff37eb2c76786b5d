/**
 * npm run bench:upload — uploads a 100 MB ZIP and a 5 MB ZIP (formats that need no
 * processing) to the built service on its embedded defaults, and in the same run the same
 * bytes to a bare Node server doing HTTP + SHA-256 + MD5 + AES-256-GCM + write + fsync
 * (bench/baseline-server.ts). Prints throughputs, their ratio, and the service's peak RSS
 * during 3 concurrent 100 MB uploads. Goal: ratio >= 0.7, RSS < 300 MB.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync, createReadStream } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { freePort } from '../src/db/free-port.js';

const MB = 1024 * 1024;
const ROOT = join(__dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'media-bench-'));
chmodSync(work, 0o711); // the embedded PostgreSQL (user postgres, when run as root) must enter DATA_DIR below it
const children: ChildProcess[] = [];

/** A valid ZIP with one stored entry of random bytes, `size` bytes in all (give or take the headers). */
function makeZip(path: string, size: number): void {
  const name = Buffer.from('data.bin');
  const data = randomBytes(size - 30 - 46 - 22 - 2 * name.length);
  const crc = crc32(data);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(name.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(name.length, 28);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(46 + name.length, 12);
  end.writeUInt32LE(30 + name.length + data.length, 16);
  const fd = openSync(path, 'w');
  for (const part of [local, name, data, central, name, end]) writeSync(fd, part);
  closeSync(fd);
}


/** POSTs the file, streamed from disk; multipart-framed for the service, raw for the baseline. */
function post(url: string, path: string, token?: string): Promise<{ status: number; body: string; ms: number }> {
  const boundary = 'bench-boundary';
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="bench.zip"\r\nContent-Type: application/zip\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const multipart = Boolean(token);
  const size = statSync(path).size + (multipart ? head.length + tail.length : 0);
  const target = new URL(url);
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: target.hostname,
      port: target.port,
      path: target.pathname,
      method: 'POST',
      headers: {
        'Content-Length': size,
        'Content-Type': multipart ? `multipart/form-data; boundary=${boundary}` : 'application/octet-stream',
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
      },
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
    });
    req.on('error', reject);
    if (multipart) req.write(head);
    const file = createReadStream(path, { highWaterMark: 256 * 1024 });
    file.pipe(req, { end: false });
    file.on('end', () => req.end(multipart ? tail : undefined));
  });
}

async function startService(): Promise<{ base: string; pid: number; env: Record<string, string> }> {
  const port = await freePort();
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    DATA_DIR: join(work, 'data'),
    PORT: String(port),
    LOG_LEVEL: 'warn',
    MAX_ARCHIVE_BYTES: String(150 * MB),
    UPLOAD_BYTES_PER_SECOND: String(10 * 1024 * MB),
    QUOTA_STORAGE_BYTES: String(100 * 1024 * MB),
    QUOTA_DAILY_UPLOADS: '100000',
    RATE_LIMIT_PER_MINUTE: '100000',
  };
  delete env.DATABASE_URL;
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'src', 'main.js')], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(child);
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (await fetch(`${base}/health/ready`).then((r) => r.ok, () => false)) return { base, pid: child.pid!, env };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('service did not become ready');
}

async function startBaseline(): Promise<string> {
  const child = spawn(process.execPath, [join(__dirname, 'baseline-server.js'), work], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const port = await new Promise<string>((resolve) => child.stdout!.once('data', (chunk) => resolve(String(chunk).trim())));
  return `http://127.0.0.1:${port}/`;
}

function rssMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(field))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main(): Promise<void> {
  const big = join(work, 'big.zip');
  const small = join(work, 'small.zip');
  makeZip(big, 100 * MB);
  makeZip(small, 5 * MB);
  const service = await startService();
  const baseline = await startBaseline();
  const token = (user: string) => execFileSync(process.execPath, [join(ROOT, 'dist', 'scripts', 'token.js'), user], { env: service.env }).toString().trim();
  const users = ['bench1', 'bench2', 'bench3'].map(token);

  const serviceOnce = async (path: string, userToken = users[0]) => {
    const reply = await post(`${service.base}/api/v1/media/upload`, path, userToken);
    if (reply.status !== 201) throw new Error(`upload answered ${reply.status}: ${reply.body}`);
    const { id } = JSON.parse(reply.body);
    await fetch(`${service.base}/api/v1/media/${id}`, { method: 'DELETE', headers: { Authorization: `Bearer ${userToken}` } });
    return reply.ms;
  };
  const baselineOnce = async (path: string) => (await post(baseline, path)).ms;

  const rows: string[] = [];
  for (const [label, path, runs] of [['100 MB', big, 5], ['5 MB', small, 15]] as const) {
    await serviceOnce(path);
    await baselineOnce(path); // warm-up
    const serviceMs: number[] = [];
    const baselineMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      // Interleaved, so both see the same machine load.
      serviceMs.push(await serviceOnce(path));
      baselineMs.push(await baselineOnce(path));
    }
    const size = statSync(path).size / MB;
    const s = size / (median(serviceMs) / 1000);
    const b = size / (median(baselineMs) / 1000);
    rows.push(`${label.padEnd(7)} service ${s.toFixed(0).padStart(5)} MB/s   baseline ${b.toFixed(0).padStart(5)} MB/s   ratio ${(s / b).toFixed(2)}   (median of ${runs})`);
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
  console.log(`3 x 100 MB concurrent: ${(300 / seconds).toFixed(0)} MB/s aggregate; service RSS ${before.toFixed(0)} MB before, peak ${peak.toFixed(0)} MB during (goal < 300 MB)`);
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
