/**
 * deploy/prometheus and deploy/grafana: the rules pass `promtool check rules` and their own
 * unit tests (`promtool test rules`), every alert has a runbook and a firing and a quiet
 * case, the dashboard is well-formed and its queries parse, and every media_* metric that
 * either names is one the service exports (src/observability/metrics.ts).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { Metrics } from '../../src/observability/metrics';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
const RULES = join(ROOT, 'deploy', 'prometheus', 'alerts.yml');
const RULE_TESTS = join(ROOT, 'deploy', 'prometheus', 'alerts.test.yml');
const DASHBOARD = join(ROOT, 'deploy', 'grafana', 'media-service.json');

/** The runbooks of docs/operations.md the alerts link to. */
const RUNBOOKS = [
  'upload-errors',
  'storage-full',
  'slow-video',
  'moderation-unavailable',
  'mtls-failures',
  'latency',
  'backlog',
];

const rules: any[] = (parse(readFileSync(RULES, 'utf8')) as any).groups.flatMap((g: any) => g.rules);
const dashboard: any = JSON.parse(readFileSync(DASHBOARD, 'utf8'));
const panels: any[] = dashboard.panels.flatMap((p: any) => [p, ...(p.panels ?? [])]);
const dashboardExprs: string[] = panels.flatMap((p) => (p.targets ?? []).map((t: any) => t.expr));

/** The names passed to metrics.gaugeFrom / gaugesFrom anywhere under `dir`. */
function gaugesRegisteredIn(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .flatMap((file) => [...readFileSync(join(dir, file), 'utf8').matchAll(/\bgauges?From\(\s*'(media_[a-z0-9_]+)'/g)])
    .map((match) => match[1]);
}

/** promtool's output, or the reason it failed (its output included). */
async function promtool(...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run('promtool', args, { timeout: 30_000 });
    return stdout + stderr;
  } catch (error) {
    const failure = error as Error & { code?: unknown; stdout?: string; stderr?: string };
    if (failure.code === 'ENOENT')
      throw new Error('promtool is missing: install the Debian package prometheus (scripts/system-packages.txt)', {
        cause: error,
      });
    throw new Error(`promtool ${args.join(' ')} exited ${failure.code}:\n${failure.stdout}${failure.stderr}`, {
      cause: error,
    });
  }
}

describe('deploy/prometheus/alerts.yml', () => {
  it('passes promtool check rules', async () => {
    expect(await promtool('check', 'rules', RULES)).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('passes its unit tests (promtool test rules)', async () => {
    expect(await promtool('test', 'rules', RULE_TESTS)).toMatch(/SUCCESS/);
  });

  it('gives every alert a severity, a summary and a runbook in docs/operations.md', () => {
    for (const rule of rules) {
      expect([rule.alert, rule.labels?.severity]).toEqual([rule.alert, expect.stringMatching(/^(warning|critical)$/)]);
      expect([rule.alert, typeof rule.annotations?.summary]).toEqual([rule.alert, 'string']);
      const anchor = /^docs\/operations\.md#(.+)$/.exec(rule.annotations?.runbook_url ?? '')?.[1];
      expect([rule.alert, RUNBOOKS.includes(anchor as string)]).toEqual([rule.alert, true]);
    }
    // Every runbook the issue names has an alert.
    const linked = new Set(rules.map((r) => r.annotations.runbook_url.split('#')[1]));
    expect(RUNBOOKS.filter((anchor) => !linked.has(anchor))).toEqual([]);
  });

  it('tests every alert both firing and staying quiet', () => {
    const cases = (parse(readFileSync(RULE_TESTS, 'utf8')) as any).tests.flatMap((t: any) => t.alert_rule_test);
    for (const { alert } of rules) {
      const mine = cases.filter((c: any) => c.alertname === alert);
      expect([alert, mine.some((c: any) => c.exp_alerts.length > 0)]).toEqual([alert, true]);
      expect([alert, mine.some((c: any) => c.exp_alerts.length === 0)]).toEqual([alert, true]);
    }
  });
});

describe('deploy/grafana/media-service.json', () => {
  it('is a Grafana dashboard on a Prometheus datasource variable', () => {
    expect(dashboard).toMatchObject({ title: 'media-service', uid: 'whispr-media-service', schemaVersion: 39 });
    expect(dashboard.templating.list).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', query: 'prometheus' }),
      ]),
    );
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of panels) {
      const { x, y, w, h } = panel.gridPos;
      expect([panel.title, x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= 24]).toEqual([panel.title, true]);
      if (panel.type === 'row') continue;
      expect([panel.title, panel.datasource]).toEqual([panel.title, { type: 'prometheus', uid: '${DS_PROMETHEUS}' }]);
      expect([panel.title, panel.targets.length > 0]).toEqual([panel.title, true]);
    }
    expect(panels.filter((p) => p.type === 'row').map((p) => p.title)).toEqual([
      'Traffic',
      'Upload pipeline',
      'Business',
      'Workers',
      'Peers',
      'Outbox',
      'Process',
    ]);
  });

  it('has queries that parse (promtool, as recording rules)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dashboard-rules-'));
    try {
      const file = join(dir, 'dashboard.rules.yml');
      const recorded = dashboardExprs.map((expr, i) => ({
        record: `dashboard:query_${i}`,
        expr: expr.replaceAll('$__rate_interval', '5m').replaceAll('$namespace', '.*'),
      }));
      writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules: recorded }] }));
      expect(await promtool('check', 'rules', file)).toMatch(`SUCCESS: ${recorded.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('metric names', () => {
  it('names only metrics the service exports', async () => {
    const exported = new Set<string>();
    for (const metric of await new Metrics().registry.getMetricsAsJSON()) {
      exported.add(metric.name);
      const suffixes = ({ histogram: ['_bucket', '_sum', '_count'], summary: ['_sum', '_count'] } as any)[metric.type];
      for (const suffix of suffixes ?? []) exported.add(`${metric.name}${suffix}`);
    }
    // Gauges read at scrape time are registered by the modules that own the value
    // (metrics.gaugeFrom('media_queue_depth', ...) in the job queue, ...), not by new Metrics():
    // their names are taken from those calls in src/.
    for (const name of gaugesRegisteredIn(join(ROOT, 'src'))) exported.add(name);
    // Metric names only: label matchers ({media_type="video"}) and grouping clauses (by (media_type)) are left out.
    const referenced = (texts: string[]) => [
      ...new Set(
        texts.flatMap(
          (text) =>
            text
              .replace(/\{[^}]*\}/g, '')
              .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
              .match(/\bmedia_[a-z0-9_]+/g) ?? [],
        ),
      ),
    ];
    const inAlerts = referenced(rules.map((r) => r.expr));
    const inDashboard = referenced([
      ...dashboardExprs,
      ...dashboard.templating.list.map((v: any) => v.definition ?? ''),
    ]);
    expect(inAlerts.length).toBeGreaterThan(5);
    expect({ alerts: inAlerts.filter((n) => !exported.has(n)) }).toEqual({ alerts: [] });
    expect({ dashboard: inDashboard.filter((n) => !exported.has(n)) }).toEqual({ dashboard: [] });
  });
});
