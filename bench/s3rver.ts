/**
 * A real S3-protocol server (s3rver) on a free port of 127.0.0.1, its objects under a
 * directory the caller owns: `npm run bench -- --driver s3` and the tests' S3 support
 * (test/support/s3-server.ts) both start it here.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { S3Client } from '@aws-sdk/client-s3';

/** s3rver checks no signature, but the SDK signs every request with something. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const REGION = 'us-east-1';

// Run as a child process: s3rver's ListObjectsV2 continuation tokens are DES-encrypted, which
// OpenSSL 3 offers only with the legacy provider, a flag given when node starts. The child
// ends when its stdin closes, i.e. with the process that started it even if that one dies.
const SERVER_SCRIPT = `
const [s3rver, directory] = process.argv.slice(1);
const S3rver = require(s3rver);
process.stdin.on('end', () => process.exit(0)).resume();
new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory })
  .run()
  .then(({ port }) => console.log(JSON.stringify({ port })), (error) => { console.error(error); process.exit(1); });
`;

export interface S3rver {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  child: ChildProcess;
  /** A plain SDK client of it (create buckets, list keys). */
  client: S3Client;
  /** The STORAGE_DRIVER=s3 environment of the service for `bucket`. */
  env(bucket: string): Record<string, string>;
  /** Ends the client and the server; the directory is left to the caller. */
  stop(): Promise<void>;
}

export async function startS3rver(directory: string): Promise<S3rver> {
  const child = spawn(
    process.execPath,
    ['--openssl-legacy-provider', '-e', SERVER_SCRIPT, require.resolve('s3rver'), directory],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const endpoint = `http://127.0.0.1:${await listeningPort(child)}`;
  const client = new S3Client({ endpoint, region: REGION, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
  return {
    endpoint,
    child,
    client,
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
