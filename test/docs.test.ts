import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { envSchema } from '../src/config/config.schema';

/**
 * The repository stands alone: its documents point at nothing outside it, their links
 * resolve, and docs/configuration.md names every variable the service reads. (docs/api.md
 * is checked against the OpenAPI document in test/http/openapi.test.ts.)
 */
const ROOT = join(__dirname, '..');
const DOCS = join(ROOT, 'docs');
const TEXT = /\.(ts|cjs|mjs|js|md|sh|txt|json|ya?ml)$/;
const SKIP = new Set(['node_modules', 'fixtures', 'results', 'dist', 'generated']);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return SKIP.has(name) ? [] : files(path);
    return TEXT.test(name) ? [path] : [];
  });
}

const markdown = () => [join(ROOT, 'README.md'), ...files(DOCS).filter((path) => path.endsWith('.md'))];

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
const anchorOf = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

describe('the repository stands alone', () => {
  it('has the reference in docs/', () => {
    for (const name of ['api.md', 'behaviour.md', 'configuration.md', 'architecture.md', 'operations.md'])
      expect([name, existsSync(join(DOCS, name))]).toEqual([name, true]);
  });

  it('refers to no document outside itself and to no issue by number', () => {
    // Built from parts so that this file does not match itself.
    const outside = [
      new RegExp(
        [
          '\\.\\./' + 'shared',
          'shared/(CONTRACT|DESIGN|ENVIRONMENT|STYLE)',
          '\\b(CONTRACT|DESIGN)(\\.md| §|:| ")',
        ].join('|'),
      ),
      new RegExp('\\bissue #?[0-9]', 'i'),
    ];
    const scanned = [
      join(ROOT, 'README.md'),
      ...['docs', 'src', 'test', 'bench', 'scripts'].flatMap((dir) => files(join(ROOT, dir))),
    ];
    const found = scanned.flatMap((path) =>
      readFileSync(path, 'utf8')
        .split('\n')
        .map((line, index) => ({ line, where: `${relative(ROOT, path)}:${index + 1}` }))
        .filter(({ line }) => outside.some((pattern) => pattern.test(line)))
        .map(({ line, where }) => `${where}: ${line.trim()}`),
    );
    expect(found).toEqual([]);
  });

  it('has working relative links in README.md and docs/', () => {
    const broken: string[] = [];
    for (const path of markdown()) {
      const text = readFileSync(path, 'utf8').replace(/```[\s\S]*?```/g, '');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/i.test(target)) continue;
        const [file, anchor] = target.split('#');
        const linked = file ? join(dirname(path), file) : path;
        if (!existsSync(linked)) {
          broken.push(`${relative(ROOT, path)}: ${target}`);
          continue;
        }
        if (!anchor || !linked.endsWith('.md')) continue;
        const anchors = readFileSync(linked, 'utf8')
          .replace(/```[\s\S]*?```/g, '')
          .split('\n')
          .filter((line) => /^#{1,6} /.test(line))
          .map((line) => anchorOf(line.replace(/^#+ /, '')));
        if (!anchors.includes(anchor)) broken.push(`${relative(ROOT, path)}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('names every variable of the configuration schema in docs/configuration.md', () => {
    const doc = readFileSync(join(DOCS, 'configuration.md'), 'utf8');
    const variables = Object.keys(envSchema.describe().keys ?? {});
    expect(variables.length).toBeGreaterThan(40);
    expect(variables.filter((name) => !doc.includes(`\`${name}\``))).toEqual([]);
  });

  it('starts the README with the two commands', () => {
    const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n');
    expect(lines[0]).toBe('# media-service');
    const commands = lines
      .slice(1)
      .filter((line) => line.trim() !== '')
      .slice(0, 4);
    expect(commands[0]).toBe('```sh');
    expect(commands[1]).toMatch(/^npm ci && npm start\b/);
    expect(commands[2]).toMatch(/^npm ci && npm test\b/);
  });
});
