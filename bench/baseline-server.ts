/**
 * The baseline of `npm run bench:upload`: the least a server can do with an upload —
 * receive the HTTP body and, in one pass, SHA-256 + MD5 + AES-256-GCM it and write it to
 * a file with fsync. Prints its port; answers 201 with the byte count.
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const dir = process.argv[2];
let n = 0;

const server = http.createServer(async (req, res) => {
  const path = join(dir, `baseline-${n++}`);
  const sha = createHash('sha256');
  const md5 = createHash('md5');
  const cipher = createCipheriv('aes-256-gcm', randomBytes(32), randomBytes(12));
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      sha.update(chunk);
      md5.update(chunk);
      done(null, cipher.update(chunk));
    },
    flush(done) {
      cipher.final();
      done(null, cipher.getAuthTag());
    },
  });
  await pipeline(req, tap, createWriteStream(path));
  const file = await open(path, 'r');
  await file.sync();
  await file.close();
  sha.digest();
  md5.digest();
  await rm(path);
  res.writeHead(201, { 'Content-Type': 'application/json' }).end(JSON.stringify({ bytes }));
});

server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as { port: number }).port}\n`));
