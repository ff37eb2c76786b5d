import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../src/config/load-config';

describe('configuration', () => {
  const dirs: string[] = [];
  const dataDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'media-test-config-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it('applies the contract defaults', () => {
    const config = loadConfig({ DATA_DIR: dataDir() });
    expect(config).toMatchObject({
      role: 'all',
      port: 3000,
      storage: { driver: 'local' },
      moderationFailureMode: 'closed',
      limits: {
        quotaBytes: 1073741824,
        dailyUploads: 100,
        requestsPerMinute: 60,
        uploadConcurrency: 3,
        uploadBytesPerSecond: 10485760,
        maxBytes: {
          image: 25 * 1024 * 1024,
          video: 100 * 1024 * 1024,
          audio: 50 * 1024 * 1024,
          document: 25 * 1024 * 1024,
          archive: 50 * 1024 * 1024,
        },
      },
    });
    expect(config.clamavUrl).toBeUndefined();
  });

  it('reports every invalid variable at once', () => {
    let message = '';
    try {
      loadConfig({
        DATA_DIR: dataDir(),
        PORT: 'eighty',
        MEDIA_ROLE: 'boss',
        STORAGE_DRIVER: 'ftp',
        QUOTA_DAILY_UPLOADS: '-1',
        MEDIA_MASTER_KEYS: 'nope',
      });
    } catch (error) {
      message = (error as Error).message;
    }
    for (const name of ['PORT', 'MEDIA_ROLE', 'STORAGE_DRIVER', 'QUOTA_DAILY_UPLOADS', 'MEDIA_MASTER_KEYS'])
      expect(message).toContain(`"${name}"`);
  });

  it('takes the three storage drivers of the contract, each with its bucket, and refuses any other with the other problems', () => {
    expect(loadConfig({ DATA_DIR: dataDir(), STORAGE_DRIVER: 's3', S3_BUCKET: 'b' }).storage.driver).toBe('s3');
    expect(loadConfig({ DATA_DIR: dataDir(), STORAGE_DRIVER: 'gcs', GCS_BUCKET: 'b' }).storage.driver).toBe('gcs');
    expect(() => loadConfig({ DATA_DIR: dataDir(), STORAGE_DRIVER: 'gcs' })).toThrow(
      /GCS_BUCKET \(STORAGE_DRIVER=gcs\) is required/,
    );
    let message = '';
    try {
      loadConfig({ DATA_DIR: dataDir(), STORAGE_DRIVER: 'azure', PORT: 'eighty' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^Invalid configuration:/);
    expect(message).toContain('"STORAGE_DRIVER" must be one of [local, s3, gcs]');
    expect(message).toContain('"PORT"');
  });

  it('takes REDIS_URL (redis:// or rediss://) and refuses anything else', () => {
    expect(loadConfig({ DATA_DIR: dataDir(), REDIS_URL: 'redis://127.0.0.1:6379' }).redisUrl).toBe(
      'redis://127.0.0.1:6379',
    );
    expect(() => loadConfig({ DATA_DIR: dataDir(), REDIS_URL: 'http://127.0.0.1:6379' })).toThrow(/"REDIS_URL"/);
  });

  it('reads the shutdown grace period (default 25 s)', () => {
    expect(loadConfig({ DATA_DIR: dataDir() }).shutdownGraceMs).toBe(25_000);
    expect(loadConfig({ DATA_DIR: dataDir(), SHUTDOWN_GRACE_SECONDS: '2.5' }).shutdownGraceMs).toBe(2500);
    expect(() => loadConfig({ DATA_DIR: dataDir(), SHUTDOWN_GRACE_SECONDS: '-1' })).toThrow(/"SHUTDOWN_GRACE_SECONDS"/);
  });

  it('in production, refuses to start without secrets and names the variables', () => {
    const dir = dataDir();
    expect(() => loadConfig({ NODE_ENV: 'production', DATA_DIR: dir })).toThrow(
      /AUTH_JWT_SECRET[\s\S]*MEDIA_MASTER_KEYS/,
    );
    expect(() => loadConfig({ NODE_ENV: 'production', DATA_DIR: dir, AUTH_JWT_SECRET: 'x'.repeat(40) })).toThrow(
      /MEDIA_MASTER_KEYS/,
    );
    expect(() => statSync(join(dir, 'secrets'))).toThrow(/ENOENT/);
  });

  it('in development, generates secrets once under DATA_DIR and reuses them', () => {
    const dir = dataDir();
    const first = loadConfig({ DATA_DIR: dir });
    const second = loadConfig({ DATA_DIR: dir });
    expect(first.auth.jwtSecret).toBeTruthy();
    expect(second.auth.jwtSecret).toBe(first.auth.jwtSecret);
    expect(second.masterKeys[0].key.equals(first.masterKeys[0].key)).toBe(true);
    expect(first.masterKeys[0].key.length).toBe(32);
    expect(statSync(join(dir, 'secrets', 'master-keys')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'secrets', 'jwt-secret'), 'utf8').trim()).toBe(first.auth.jwtSecret);
  });

  it('in production, needs SIGNED_URL_KEYS, and GRPC_API_TOKEN when the gRPC API listens beyond loopback', () => {
    const key = (n: number) => `k${n}:${Buffer.alloc(32, n).toString('base64')}`;
    const base = {
      NODE_ENV: 'production',
      DATA_DIR: dataDir(),
      AUTH_JWT_SECRET: 'x'.repeat(40),
      MEDIA_MASTER_KEYS: key(1),
    };
    expect(() => loadConfig(base)).toThrow(/SIGNED_URL_KEYS is required/);
    const signed = { ...base, SIGNED_URL_KEYS: `${key(2)},${key(3)}` };
    expect(loadConfig(signed).signedUrlKeys.map((k) => k.id)).toEqual(['k2', 'k3']);
    expect(loadConfig(signed).grpc).toEqual({ host: '127.0.0.1', port: 50051, apiToken: undefined });
    expect(() => loadConfig({ ...signed, GRPC_HOST: '0.0.0.0' })).toThrow(
      /GRPC_API_TOKEN \(GRPC_HOST=0.0.0.0 is not a loopback address\) is required/,
    );
    expect(loadConfig({ ...signed, GRPC_HOST: '0.0.0.0', GRPC_API_TOKEN: 't'.repeat(32) }).grpc.apiToken).toBe(
      't'.repeat(32),
    );
    expect(loadConfig({ ...signed, GRPC_HOST: '0.0.0.0', GRPC_PORT: '0' }).grpc.port).toBe(0); // off: nothing to guard
    for (const host of ['localhost', '127.0.0.2', '::1'])
      expect(loadConfig({ ...signed, GRPC_HOST: host }).grpc.host).toBe(host);
    expect(() => loadConfig({ ...signed, GRPC_API_TOKEN: 'short' })).toThrow(/"GRPC_API_TOKEN"/);
    expect(() => loadConfig({ ...signed, SIGNED_URL_KEYS: 'k:tooshort' })).toThrow(/"SIGNED_URL_KEYS"/);
  });

  it('generates a signed-URL key in development, reused at the next start', () => {
    const dir = dataDir();
    const first = loadConfig({ DATA_DIR: dir });
    expect(first.signedUrlKeys[0].key.length).toBe(32);
    expect(loadConfig({ DATA_DIR: dir }).signedUrlKeys[0].key.equals(first.signedUrlKeys[0].key)).toBe(true);
  });

  it('parses several master keys, the first being current', () => {
    const a = Buffer.alloc(32, 1).toString('base64');
    const b = Buffer.alloc(32, 2).toString('base64');
    const config = loadConfig({ DATA_DIR: dataDir(), MEDIA_MASTER_KEYS: `new:${b},old:${a}` });
    expect(config.masterKeys.map((k) => k.id)).toEqual(['new', 'old']);
    expect(() => loadConfig({ DATA_DIR: dataDir(), MEDIA_MASTER_KEYS: `x:${a},x:${b}` })).toThrow(/duplicate/);
  });
});
