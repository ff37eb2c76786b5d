/**
 * .github/workflows/ci.yml runs what the README promises (`npm ci && npm test` on Debian 12
 * with Node 20, through .ci/run) and audits the production dependencies.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const ROOT = join(__dirname, '..', '..');
const workflow: any = parse(readFileSync(join(ROOT, '.github', 'workflows', 'ci.yml'), 'utf8'));

describe('.github/workflows/ci.yml', () => {
  const jobs: any[] = Object.values(workflow.jobs);
  const runs = (job: any): string[] => job.steps.filter((s: any) => s.run).map((s: any) => s.run.trim());

  it('runs on pushes and pull requests, read-only', () => {
    expect(Object.keys(workflow.on).sort()).toEqual(['pull_request', 'push']);
    expect(workflow.permissions).toEqual({ contents: 'read' });
  });

  it('runs the README test command on Debian 12 with Node 20, as root, within 90 minutes', () => {
    const [job] = jobs.filter((j) => runs(j).some((r) => r === 'bash .ci/run' || r === 'npm ci && npm test'));
    expect(job).toBeDefined();
    // node:20-bookworm is Debian 12 (bookworm) with Node 20.
    expect(job.container.image).toMatch(/^node:20(\.\d+)*-bookworm$/);
    expect(job.container.options ?? '').not.toMatch(/--user\s+(?!root|0\b)/);
    expect(job['timeout-minutes']).toBe(90);
    expect(job.steps[0].uses).toMatch(/^actions\/checkout@v\d+$/);
    // .ci/run is that command, and nothing else.
    const script = readFileSync(join(ROOT, '.ci', 'run'), 'utf8');
    expect(script.split('\n').filter((l) => l && !l.startsWith('#') && !/^(set|cd) /.test(l))).toEqual([
      'npm ci && npm test',
    ]);
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('npm ci && npm test');
    expect(readme).toMatch(/Debian 12 machine with Node 20/);
  });

  it('audits the production dependencies', () => {
    expect(jobs.flatMap(runs)).toContain('npm audit --omit=dev');
  });
});
