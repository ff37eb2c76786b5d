/**
 * The bare baseline of the benches: the least a server can do with our files, no
 * framework, database, auth or quota.
 * - `POST /` receives the body and, in one pass, SHA-256 + MD5 + seals it in 64 KiB
 *   AES-256-GCM segments, writes it to a file with fsync; answers 201 `{ id, bytes }`.
 * - `GET /{id}` reads that file and streams it back decrypted, segment by segment,
 *   honouring one `Range` (206); `DELETE /{id}` removes it.
 * Prints its port.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const SEGMENT = 64 * 1024;
const TAG = 16;
const dir = process.argv[2];
const key = randomBytes(32);
const prefix = randomBytes(8);
const sizes = new Map<string, number>();
let n = 0;

function nonce(index: number): Buffer {
  const iv = Buffer.alloc(12);
  prefix.copy(iv, 0);
  iv.writeUInt32BE(index, 8);
  return iv;
}

/** Seals whole segments as they fill; hashes the plaintext on the way. */
function seal(onBytes: (n: number) => void): Transform {
  const sha = createHash('sha256');
  const md5 = createHash('md5');
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let index = 0;
  const sealOne = (plain: Buffer): Buffer => {
    const cipher = createCipheriv('aes-256-gcm', key, nonce(index++));
    return Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  };
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      onBytes(chunk.length);
      sha.update(chunk);
      md5.update(chunk);
      pending.push(chunk);
      pendingBytes += chunk.length;
      while (pendingBytes >= SEGMENT) {
        const all = Buffer.concat(pending);
        this.push(sealOne(all.subarray(0, SEGMENT)));
        pending = [all.subarray(SEGMENT)];
        pendingBytes -= SEGMENT;
      }
      done();
    },
    flush(done) {
      if (pendingBytes > 0) this.push(sealOne(Buffer.concat(pending)));
      sha.digest();
      md5.digest();
      done();
    },
  });
}

async function receive(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const id = String(n++);
  const path = join(dir, `baseline-${id}`);
  let bytes = 0;
  await pipeline(
    req,
    seal((count) => (bytes += count)),
    createWriteStream(path),
  );
  const file = await open(path, 'r');
  await file.sync();
  await file.close();
  sizes.set(id, bytes);
  res.writeHead(201, { 'Content-Type': 'application/json' }).end(JSON.stringify({ id, bytes }));
}

function serve(id: string, req: http.IncomingMessage, res: http.ServerResponse): void {
  const size = sizes.get(id);
  if (size === undefined) return void res.writeHead(404).end();
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  const start = range ? Number(range[1]) : 0;
  const end = range && range[2] ? Number(range[2]) : size - 1;
  const first = Math.floor(start / SEGMENT);
  const last = Math.floor(end / SEGMENT);
  res.writeHead(range ? 206 : 200, { 'Content-Type': 'application/octet-stream', 'Content-Length': end - start + 1 });
  const stored = createReadStream(join(dir, `baseline-${id}`), {
    start: first * (SEGMENT + TAG),
    end: (last + 1) * (SEGMENT + TAG) - 1,
    highWaterMark: SEGMENT + TAG,
  });
  const fileLast = Math.floor((size - 1) / SEGMENT);
  let index = first;
  let carry: Buffer = Buffer.alloc(0);
  const open = new Transform({
    transform(chunk: Buffer, _enc, done) {
      carry = carry.length ? Buffer.concat([carry, chunk]) : chunk;
      for (;;) {
        const need = (index === fileLast ? size - fileLast * SEGMENT : SEGMENT) + TAG;
        if (index > last || carry.length < need) break;
        const decipher = createDecipheriv('aes-256-gcm', key, nonce(index));
        decipher.setAuthTag(carry.subarray(need - TAG, need));
        const plain = Buffer.concat([decipher.update(carry.subarray(0, need - TAG)), decipher.final()]);
        const from = index === first ? start - first * SEGMENT : 0;
        const to = index === last ? end - last * SEGMENT + 1 : plain.length;
        this.push(plain.subarray(from, to));
        carry = carry.subarray(need);
        index++;
      }
      done();
    },
  });
  pipeline(stored, open, res).catch(() => res.destroy());
}

const server = http.createServer((req, res) => {
  const id = (req.url ?? '/').slice(1);
  if (req.method === 'POST') return void receive(req, res).catch(() => res.writeHead(500).end());
  if (req.method === 'GET') return serve(id, req, res);
  if (req.method === 'DELETE') {
    sizes.delete(id);
    return void rm(join(dir, `baseline-${id}`), { force: true }).then(() => res.writeHead(204).end());
  }
  res.writeHead(405).end();
});

server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as { port: number }).port}\n`));
