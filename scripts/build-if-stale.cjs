'use strict';
/**
 * node scripts/build-if-stale.cjs
 * Runs `npm run build` only when dist/ is missing or older than one of its inputs, so that
 * a script run from dist/ (npm run token) does not pay a full build (≈ 7 s) every time.
 * Plain CommonJS: it must run before anything is compiled.
 */
const { execFileSync } = require('node:child_process');
const { existsSync, readdirSync, statSync } = require('node:fs');
const { join, relative } = require('node:path');

/** `npm run build` touches it last, after tsc succeeded: a failed build leaves no stamp. */
const STAMP = join('dist', '.built');
/** What tsconfig.build.json compiles, and what the generated Prisma client depends on. */
const INPUTS = ['src', 'scripts', 'bench', 'prisma', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];
/**
 * What the project writes below its inputs and the build does not read: `npm run bench`'s
 * results. (Making bench/results the first time still changes bench/ itself, once.)
 */
const OUTPUTS = [join('bench', 'results')];

/** Why `root` needs a build (a reason naming the newer input), or null when dist/ is current. */
function staleReason(root) {
  const stamp = join(root, STAMP);
  if (!existsSync(stamp)) return 'no complete build in dist/';
  const built = statSync(stamp).mtimeMs;
  const outputs = OUTPUTS.map((output) => join(root, output));
  for (const input of INPUTS) {
    const newer = newerThan(join(root, input), built, outputs);
    if (newer) return `${relative(root, newer)} changed since the last build`;
  }
  return null;
}

/** The first path under `path` (none of `skipped`) modified after `time`; a directory counts, as removing a file changes it. */
function newerThan(path, time, skipped) {
  if (!existsSync(path) || skipped.includes(path)) return null;
  const stat = statSync(path);
  if (stat.mtimeMs > time) return path;
  if (!stat.isDirectory()) return null;
  for (const entry of readdirSync(path)) {
    const newer = newerThan(join(path, entry), time, skipped);
    if (newer) return newer;
  }
  return null;
}

if (require.main === module) {
  const root = join(__dirname, '..');
  const reason = staleReason(root);
  if (reason) {
    process.stderr.write(`building: ${reason}\n`);
    // Build output goes to stderr: stdout belongs to the script that runs next (a token).
    try {
      execFileSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: ['ignore', 2, 2] });
    } catch (error) {
      process.exit(error.status || 1); // npm has already said what failed
    }
  }
}

module.exports = { staleReason, STAMP };
