/**
 * deploy/Dockerfile, without Docker (none on this machine): linted by dockerfile-utils (the
 * validator of the Docker language server: syntax, flags, instruction arguments), then held
 * to the facts the deployment relies on. It is not built here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validate, ValidationSeverity, type ValidatorSettings } from 'dockerfile-utils';

const ROOT = join(__dirname, '..', '..');
const TEXT = readFileSync(join(ROOT, 'deploy', 'Dockerfile'), 'utf8');

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** Instructions (continuations joined, comments dropped), grouped by stage; ARGs before the first FROM apart. */
function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const logical: string[] = [];
  let current = '';
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line)) continue;
    if (/\\\s*$/.test(line)) current += line.replace(/\\\s*$/, ' ');
    else {
      current += line;
      if (current.trim()) logical.push(current.trim());
      current = '';
    }
  }
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, keyword, rest] = /^(\S+)\s*(.*)$/.exec(line) as RegExpExecArray;
    if (keyword.toUpperCase() === 'FROM') {
      const [from, , name] = rest.split(/\s+/);
      stages.push({ from, name, instructions: [] });
    } else if (!stages.length && keyword.toUpperCase() === 'ARG') {
      const [key, value] = rest.split('=');
      args[key] = value;
    } else stages.at(-1)?.instructions.push({ keyword: keyword.toUpperCase(), args: rest });
  }
  return { args, stages };
}

const { args, stages } = parseDockerfile(TEXT);
const stage = (name: string) => stages.find((s) => s.name === name) as Stage;
/** A target's instructions, with those of the stages it is built FROM. */
function chain(name: string): { image: string; instructions: Instruction[] } {
  const s = stage(name);
  const parent = stages.find((p) => p.name === s.from);
  if (parent) {
    const up = chain(parent.name as string);
    return { image: up.image, instructions: [...up.instructions, ...s.instructions] };
  }
  return { image: s.from.replace(/^\$\{(\w+)\}$/, (_, arg: string) => args[arg]), instructions: s.instructions };
}
const all = (name: string, keyword: string) =>
  chain(name)
    .instructions.filter((i) => i.keyword === keyword)
    .map((i) => i.args);

describe('deploy/Dockerfile', () => {
  it('has no diagnostics from dockerfile-utils, every check set to error', () => {
    const settings: ValidatorSettings = {
      deprecatedMaintainer: ValidationSeverity.ERROR,
      directiveCasing: ValidationSeverity.ERROR,
      emptyContinuationLine: ValidationSeverity.ERROR,
      instructionCasing: ValidationSeverity.ERROR,
      instructionCmdMultiple: ValidationSeverity.ERROR,
      instructionEntrypointMultiple: ValidationSeverity.ERROR,
      instructionHealthcheckMultiple: ValidationSeverity.ERROR,
      instructionJSONInSingleQuotes: ValidationSeverity.ERROR,
      instructionWorkdirRelative: ValidationSeverity.ERROR,
    };
    const diagnostics = validate(TEXT, settings).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
    expect(diagnostics).toEqual([]);
    // The validator does catch a broken one.
    expect(validate(TEXT.replace('HEALTHCHECK --interval=30s', 'HEALTHCHECK --interval=30'), settings)).not.toEqual([]);
  });

  it.each(['api', 'worker'])(
    'builds the %s target on Node 24 LTS, as a non-root user, with a health check',
    (target) => {
      expect(chain(target).image).toMatch(/^node:24-bookworm-slim$/);
      const users = all(target, 'USER');
      expect(users.length).toBeGreaterThan(0);
      expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
      const [healthcheck] = all(target, 'HEALTHCHECK');
      expect(healthcheck).toMatch(/\/health\/live/);
      expect(healthcheck).toMatch(/"node"/); // no curl in the slim image
      expect(all(target, 'CMD').at(-1)).toBe(
        '["node", "--max-semi-space-size=4", "--no-memory-reducer", "dist/src/main.js"]',
      );
      expect(all(target, 'ENV').join(' ')).toContain(`MEDIA_ROLE=${target}`);
      // glibc's malloc as `npm start` sets it (docs/configuration.md, "Outside the service").
      for (const setting of [
        'MALLOC_ARENA_MAX=2',
        'MALLOC_MMAP_THRESHOLD_=33554432',
        'MALLOC_TRIM_THRESHOLD_=268435456',
      ])
        expect(all(target, 'ENV').join(' ')).toContain(setting);
    },
  );

  it('installs production dependencies alone in the image, and builds with the dev ones elsewhere', () => {
    expect(
      stage('prod-deps')
        .instructions.map((i) => i.args)
        .join('\n'),
    ).toMatch(/npm ci --omit=dev/);
    const copies = all('api', 'COPY');
    expect(copies).toContain('--from=prod-deps /app/node_modules ./node_modules');
    expect(copies.filter((c) => c.startsWith('--from=build')).every((c) => c.includes('/app/dist/'))).toBe(true);
    // What dist/src/main.js reads at run time besides dist/: migrations and the gRPC definitions.
    expect(copies).toEqual(expect.arrayContaining(['prisma/migrations ./prisma/migrations', 'proto ./proto']));
    expect(stage('build').instructions.map((i) => i.args)).toEqual(expect.arrayContaining(['npm run build']));
  });

  it('installs the Debian packages the processors run, in both images (scripts/system-packages.txt minus test-only ones)', () => {
    const testOnly = ['curl', 'clamav-daemon', 'redis-server', 'chromium', 'prometheus'];
    const wanted = readFileSync(join(ROOT, 'scripts', 'system-packages.txt'), 'utf8')
      .split('\n')
      .map((line) => line.replace(/#.*/, '').trim())
      .filter((name) => name && !testOnly.includes(name));
    const install = all('api', 'RUN').find((r) => r.includes('apt-get install')) as string;
    const installed = install
      .replace(/&&[^&]*$/, '')
      .split(/\s+/)
      .filter((word) => /^[a-z0-9][a-z0-9.+-]+$/.test(word) && !['apt-get', 'install', 'update'].includes(word));
    expect(installed.filter((p) => p !== 'tini').sort()).toEqual(wanted.sort());
    expect(all('worker', 'RUN')).toContain(install);
  });

  it('keeps out of the build context nothing the build copies', () => {
    const ignored = readFileSync(join(ROOT, 'deploy', 'Dockerfile.dockerignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    const sources = stages
      .flatMap((s) => s.instructions)
      .filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from'))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    for (const source of sources)
      expect([source, ignored.filter((pattern) => source === pattern || source.startsWith(`${pattern}/`))]).toEqual([
        source,
        [],
      ]);
  });
});
