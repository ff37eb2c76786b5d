import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CreateBucketCommand, paginateListObjectsV2, S3Client } from '@aws-sdk/client-s3';

/** s3rver checks no signature, but the SDK signs every request with something. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const REGION = 'us-east-1';

// Run as a child process: s3rver's ListObjectsV2 continuation tokens are DES-encrypted, which
// OpenSSL 3 offers only with the legacy provider, a flag given when node starts. The child
// ends when its stdin closes, i.e. with the test process even if that one dies.
const SERVER_SCRIPT = `
const [s3rver, directory] = process.argv.slice(1);
const S3rver = require(s3rver);
process.stdin.on('end', () => process.exit(0)).resume();
new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory })
  .run()
  .then(({ port }) => console.log(JSON.stringify({ port })), (error) => { console.error(error); process.exit(1); });
`;

export interface S3Server {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  /** A new, empty bucket. */
  newBucket(): Promise<string>;
  /** Every key of `bucket` under `prefix`, read with a plain SDK client (not the adapter under test). */
  keys(bucket: string, prefix?: string): Promise<string[]>;
  /** The STORAGE_DRIVER=s3 environment of the service for `bucket`. */
  env(bucket: string): Record<string, string>;
  stop(): Promise<void>;
}

/** A real S3 server (s3rver) on a free port of 127.0.0.1, its objects in a temp dir. */
export async function startS3Server(): Promise<S3Server> {
  const directory = mkdtempSync(join(tmpdir(), 'media-test-s3-'));
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '-e', SERVER_SCRIPT, require.resolve('s3rver'), directory], { stdio: ['pipe', 'pipe', 'pipe'] });
  const port = await listeningPort(child);
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({ endpoint, region: REGION, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
  let buckets = 0;
  return {
    endpoint,
    newBucket: async () => {
      const bucket = `test-${++buckets}`;
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      return bucket;
    },
    keys: async (bucket, prefix = '') => {
      const keys: string[] = [];
      for await (const page of paginateListObjectsV2({ client }, { Bucket: bucket, Prefix: prefix })) keys.push(...(page.Contents ?? []).map((o) => o.Key as string));
      return keys;
    },
    env: (bucket) => ({
      STORAGE_DRIVER: 's3',
      S3_ENDPOINT: endpoint,
      S3_REGION: REGION,
      S3_BUCKET: bucket,
      S3_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      S3_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      S3_FORCE_PATH_STYLE: 'true',
    }),
    stop: async () => {
      client.destroy();
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** The port the child prints once s3rver listens; its stderr if it ends first. */
function listeningPort(child: ChildProcess): Promise<number> {
  const errors: string[] = [];
  child.stderr!.on('data', (chunk) => errors.push(String(chunk)));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`s3rver ended (${code}) before listening:\n${errors.join('')}`)));
    createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line).port));
  });
}
