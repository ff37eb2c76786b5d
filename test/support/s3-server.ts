import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, paginateListObjectsV2 } from '@aws-sdk/client-s3';
import { startS3rver } from '../../bench/s3rver';

export { S3RVER_CREDENTIALS } from '../../bench/s3rver';

export interface S3Server {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  /** A new, empty bucket. */
  newBucket(): Promise<string>;
  /** Every key of `bucket` under `prefix`, read with a plain SDK client (not the adapter under test). */
  keys(bucket: string, prefix?: string): Promise<string[]>;
  /** The STORAGE_DRIVER=s3 environment of the service for `bucket`. */
  env(bucket: string): Record<string, string>;
  /** SIGSTOP: a bucket that hangs (the kernel still accepts connections; nothing answers). */
  pause(): void;
  /** SIGCONT: it answers again. */
  resume(): void;
  stop(): Promise<void>;
}

/** A real S3 server (s3rver, started by bench/s3rver.ts) on a free port of 127.0.0.1, its objects in a temp dir. */
export async function startS3Server(): Promise<S3Server> {
  const directory = mkdtempSync(join(tmpdir(), 'media-test-s3-'));
  const server = await startS3rver(directory).catch((error: unknown) => {
    rmSync(directory, { recursive: true, force: true });
    throw error;
  });
  const { client } = server;
  let buckets = 0;
  return {
    endpoint: server.endpoint,
    newBucket: async () => {
      const bucket = `test-${++buckets}`;
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      return bucket;
    },
    keys: async (bucket, prefix = '') => {
      const keys: string[] = [];
      for await (const page of paginateListObjectsV2({ client }, { Bucket: bucket, Prefix: prefix }))
        keys.push(...(page.Contents ?? []).map((o) => o.Key as string));
      return keys;
    },
    env: server.env,
    pause: () => server.child.kill('SIGSTOP'),
    resume: () => server.child.kill('SIGCONT'),
    stop: async () => {
      await server.stop();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
