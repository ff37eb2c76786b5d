import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeJwt, jwtVerify } from 'jose';

/** The built script, as `npm run token` runs it (dist/ is built by `npm test` before Jest). */
const ROOT = join(__dirname, '..', '..');
const TOKEN = join(ROOT, 'dist', 'scripts', 'token.js');
const SECRET = 'token-test-secret-0123456789abcdef-0123456789';
const { staleReason, STAMP } = require('../../scripts/build-if-stale.cjs') as {
  staleReason: (root: string) => string | null;
  STAMP: string;
};

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('npm run token', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'media-test-token-'));
  const env = { ...process.env, AUTH_JWT_SECRET: SECRET, DATA_DIR: dataDir, NODE_ENV: 'development' };
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  async function run(file: string, args: string[]): Promise<Run> {
    const result = await promisify(execFile)(file, args, { env, cwd: ROOT }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error) => ({ code: error.code as number, stdout: error.stdout as string, stderr: error.stderr as string }),
    );
    return result;
  }
  const token = (...args: string[]) => run(process.execPath, [TOKEN, ...args]);

  it('mints a verifiable token for a user, with roles and a lifetime', async () => {
    const { code, stdout } = await token(
      'alice.smith@example:1',
      '--role',
      'admin',
      '--role',
      'moderator',
      '--ttl',
      '60',
    );
    expect(code).toBe(0);
    const { payload } = await jwtVerify(stdout.trim(), new TextEncoder().encode(SECRET));
    expect(payload).toMatchObject({ sub: 'alice.smith@example:1', roles: ['admin', 'moderator'] });
    expect(payload.exp! - payload.iat!).toBe(60);
    expect(decodeJwt((await token('bob')).stdout.trim())).toMatchObject({ sub: 'bob', roles: [] });
  });

  it.each([[['--help']], [['-h']], [['alice', '--help']]])(
    '%j prints the usage and exits 0, minting nothing',
    async (args) => {
      const { code, stdout, stderr } = await token(...args);
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
      expect(stdout).toMatch(/^usage: npm run -s token -- <userId>/);
      expect(stdout).toContain('--role');
      expect(stdout).not.toMatch(/eyJ/);
    },
  );

  it.each([
    [
      'a user id with a space',
      ['bad id!'],
      /invalid user id "bad id!": it must be 1-128 characters of A-Z a-z 0-9 _ \. : @ -/,
    ],
    ['a 129-character user id', ['x'.repeat(129)], /invalid user id "x+": it must be 1-128 characters/],
    ['an unknown role', ['alice', '--role', 'superuser'], /unknown role "superuser": the roles are admin, moderator/],
    ['a role in the wrong case', ['alice', '--role', 'Admin'], /unknown role "Admin"/],
    ['--role without a value', ['alice', '--role'], /--role <value>' argument missing/],
    ['an unknown flag', ['alice', '--frobnicate'], /Unknown option '--frobnicate'/],
    ['two user ids', ['alice', 'bob'], /one user id expected, got 2: alice bob/],
    ['no user id', [], /a user id is required/],
    ['--ttl 0', ['alice', '--ttl', '0'], /--ttl must be a positive whole number of seconds, got "0"/],
    ['--ttl 1.5', ['alice', '--ttl', '1.5'], /--ttl must be a positive whole number/],
    ['--ttl soon', ['alice', '--ttl', 'soon'], /--ttl must be a positive whole number/],
  ])('refuses %s with the reason and the usage line (exit 2)', async (_case, args, reason) => {
    const { code, stdout, stderr } = await token(...args);
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
    expect(stderr).toMatch(reason);
    expect(stderr).toMatch(/\nusage: npm run -s token -- <userId>/);
  });

  it('takes a user id that starts with "-" after "--"', async () => {
    const { code, stdout } = await token('--', '-alice');
    expect(code).toBe(0);
    expect(decodeJwt(stdout.trim()).sub).toBe('-alice');
  });

  it('does not rebuild when dist/ is current: only the token on stdout, well under a build', async () => {
    expect(staleReason(ROOT)).toBeNull(); // npm test has just built; a stale dist/ would be rebuilt under the other tests
    const stamp = statSync(join(ROOT, STAMP)).mtimeMs;
    const { code, stdout, stderr } = await run('npm', ['run', '-s', 'token', '--', 'carol']);
    expect({ code, stderr }).toEqual({ code: 0, stderr: 'token: signed with AUTH_JWT_SECRET\n' });
    expect(stdout).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+\n$/);
    expect(statSync(join(ROOT, STAMP)).mtimeMs).toBe(stamp);
  });

  it('refuses a lifetime longer than the service accepts', async () => {
    const { code, stdout, stderr } = await token('alice', '--ttl', '604801');
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
    expect(stderr).toMatch(/--ttl must be at most 604800 seconds/);
  });
});

describe('npm run token without AUTH_JWT_SECRET', () => {
  const root = mkdtempSync(join(tmpdir(), 'media-test-token-dev-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const { AUTH_JWT_SECRET: _unset, ...inherited } = process.env;
  const token = (env: Record<string, string>, ...args: string[]) =>
    promisify(execFile)(process.execPath, [TOKEN, ...args], {
      env: { ...inherited, NODE_ENV: 'development', ...env },
      cwd: root,
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error) => ({ code: error.code as number, stdout: error.stdout as string, stderr: error.stderr as string }),
    );

  it('refuses, naming the DATA_DIR it read, when that directory holds no development secret, and creates nothing', async () => {
    const empty = join(root, 'never-started');
    const { code, stdout, stderr } = await token({ DATA_DIR: empty }, 'alice');
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
    expect(stderr).toContain(`AUTH_JWT_SECRET is not set and DATA_DIR=${empty} holds no development secret`);
    expect(existsSync(empty)).toBe(false);
    // No DATA_DIR: the default ./data of the working directory, not created either.
    const byDefault = await token({}, 'alice');
    expect(byDefault.code).toBe(2);
    expect(byDefault.stderr).toContain(`DATA_DIR=${join(root, 'data')} holds no development secret`);
    expect(existsSync(join(root, 'data'))).toBe(false);
  });

  it("signs with the development secret of the service's DATA_DIR and says so", async () => {
    const dataDir = join(root, 'started');
    mkdirSync(join(dataDir, 'secrets'), { recursive: true });
    writeFileSync(join(dataDir, 'secrets', 'jwt-secret'), `${SECRET}-dev\n`);
    const { code, stdout, stderr } = await token({ DATA_DIR: dataDir }, 'alice');
    expect(code).toBe(0);
    expect(stderr).toBe(`token: signed with the development secret of DATA_DIR=${dataDir}\n`);
    await expect(jwtVerify(stdout.trim(), new TextEncoder().encode(`${SECRET}-dev`))).resolves.toMatchObject({
      payload: { sub: 'alice' },
    });
  });
});

describe('build-if-stale', () => {
  const root = mkdtempSync(join(tmpdir(), 'media-test-stale-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const age = (path: string, secondsAgo: number) => {
    const time = new Date(Date.now() - secondsAgo * 1000);
    utimesSync(join(root, path), time, time);
  };

  it('asks for a build when there is none, when an input changed, and when a file was removed', () => {
    mkdirSync(join(root, 'src', 'http'), { recursive: true });
    writeFileSync(join(root, 'src', 'http', 'a.ts'), '');
    writeFileSync(join(root, 'src', 'http', 'b.ts'), '');
    writeFileSync(join(root, 'package-lock.json'), '{}');
    expect(staleReason(root)).toBe('no complete build in dist/');

    mkdirSync(join(root, 'dist'));
    writeFileSync(join(root, STAMP), '');
    for (const path of ['src/http/a.ts', 'src/http/b.ts', 'src/http', 'src', 'package-lock.json']) age(path, 60);
    expect(staleReason(root)).toBeNull();

    age('src/http/b.ts', -5);
    expect(staleReason(root)).toBe('src/http/b.ts changed since the last build');
    age('src/http/b.ts', 60);

    rmSync(join(root, 'src', 'http', 'a.ts'));
    expect(staleReason(root)).toBe('src/http changed since the last build');
    age('src/http', 60);

    age('package-lock.json', -5);
    expect(staleReason(root)).toBe('package-lock.json changed since the last build');
    expect(existsSync(join(root, 'dist', '.built'))).toBe(true);
  });

  it("does not ask for a build when only `npm run bench`'s results changed", () => {
    mkdirSync(join(root, 'bench', 'results'), { recursive: true });
    writeFileSync(join(root, 'bench', 'a.bench.ts'), '');
    mkdirSync(join(root, 'dist'), { recursive: true });
    writeFileSync(join(root, STAMP), '');
    age('package-lock.json', 60);
    for (const path of ['src/http/b.ts', 'src/http', 'src', 'bench/a.bench.ts', 'bench']) age(path, 60);
    writeFileSync(join(root, 'bench', 'results', 'service.json'), '{}');
    expect(staleReason(root)).toBeNull();
    age('bench/a.bench.ts', -5);
    expect(staleReason(root)).toBe('bench/a.bench.ts changed since the last build');
  });
});
