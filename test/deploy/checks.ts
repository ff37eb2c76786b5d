/**
 * Checks of rendered manifests that no schema expresses: each returns the problems it finds
 * (empty: none), so that a test can assert both that our manifests pass and that a broken
 * one is caught.
 */
import type { K8sObject } from './kustomize';

/** Manifests are untyped YAML. */
type Any = any;

export const ofKind = (objects: K8sObject[], kind: string): Any[] => objects.filter((o) => o.kind === kind);

export function podTemplates(objects: K8sObject[]): { deployment: Any; pod: Any; labels: Record<string, string> }[] {
  return ofKind(objects, 'Deployment').map((d) => ({
    deployment: d,
    pod: d.spec.template.spec,
    labels: d.spec.template.metadata.labels ?? {},
  }));
}

/** The Deployments of media-service itself (not clamd). */
export const serviceDeployments = (objects: K8sObject[]) =>
  podTemplates(objects).filter((t) => t.labels['app.kubernetes.io/name'] === 'media-service');

const matchesLabels = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

/** Istio picks a port's protocol from its name's prefix (or appProtocol): every port must say it. */
export function servicePortProblems(objects: K8sObject[]): string[] {
  return ofKind(objects, 'Service').flatMap((s) =>
    (s.spec.ports as Any[])
      .filter((p) => !/^(http|http2|grpc|tcp)(-|$)/.test(p.name ?? ''))
      .map((p) => `Service ${s.metadata.name}: port ${p.port} is named "${p.name}", not http*/grpc*/tcp*`),
  );
}

/** Every Service, HPA and PDB points at an existing Deployment (by selector or by name). */
export function targetProblems(objects: K8sObject[]): string[] {
  const templates = podTemplates(objects);
  const names = new Set(templates.map((t) => t.deployment.metadata.name));
  const selects = (selector: Record<string, string>) => templates.some((t) => matchesLabels(selector, t.labels));
  return [
    ...ofKind(objects, 'HorizontalPodAutoscaler')
      .filter((h) => h.spec.scaleTargetRef.kind !== 'Deployment' || !names.has(h.spec.scaleTargetRef.name))
      .map((h) => `HPA ${h.metadata.name}: no Deployment ${h.spec.scaleTargetRef.name}`),
    ...ofKind(objects, 'PodDisruptionBudget')
      .filter((p) => !selects(p.spec.selector.matchLabels))
      .map((p) => `PDB ${p.metadata.name}: selects no Deployment's pods`),
    ...ofKind(objects, 'Service')
      .filter((s) => !selects(s.spec.selector))
      .map((s) => `Service ${s.metadata.name}: selects no Deployment's pods`),
    ...ofKind(objects, 'Deployment')
      .filter((d) => !matchesLabels(d.spec.selector.matchLabels, d.spec.template.metadata.labels ?? {}))
      .map((d) => `Deployment ${d.metadata.name}: its selector does not match its own pods`),
  ];
}

/** Liveness on /health/live, readiness on /health/ready, a startup probe (migrations), on every container of media-service. */
export function probeProblems(objects: K8sObject[]): string[] {
  return serviceDeployments(objects).flatMap(({ deployment, pod }) =>
    (pod.containers as Any[]).flatMap((c) => {
      const where = `${deployment.metadata.name}/${c.name}`;
      const problems: string[] = [];
      if (c.livenessProbe?.httpGet?.path !== '/health/live') problems.push(`${where}: liveness is not /health/live`);
      if (c.readinessProbe?.httpGet?.path !== '/health/ready')
        problems.push(`${where}: readiness is not /health/ready`);
      if (!c.startupProbe) problems.push(`${where}: no startup probe (migrations run before the port opens)`);
      return problems;
    }),
  );
}

/** Every ALLOW rule holds both `from` and `to`: split, they would allow either alone. */
export function allowRuleProblems(objects: K8sObject[]): string[] {
  return ofKind(objects, 'AuthorizationPolicy')
    .filter((p) => (p.spec.action ?? 'ALLOW') === 'ALLOW')
    .flatMap((p) =>
      ((p.spec.rules ?? []) as Any[])
        .map((rule, i) => [rule, i] as const)
        .filter(([rule]) => !rule.from?.length || !rule.to?.length)
        .map(([, i]) => `AuthorizationPolicy ${p.metadata.name}: rule ${i} lacks from or to`),
    );
}

interface Request {
  method: string;
  path: string;
  port?: number;
}

/** The route a VirtualService gives `request` (first match wins), as Envoy would pick it. */
export function routeFor(virtualService: Any, request: Request): Any | undefined {
  return ((virtualService.spec.http ?? []) as Any[]).find(
    (route) => !route.match || (route.match as Any[]).some((m) => matches(m, request)),
  );
}

function matches(match: Any, { method, path, port }: Request): boolean {
  for (const key of Object.keys(match))
    if (!['uri', 'method', 'port', 'name'].includes(key)) throw new Error(`match field "${key}" is not simulated`);
  const string = (condition: Any, value: string) => {
    if (!condition) return true;
    if ('exact' in condition) return value === condition.exact;
    if ('prefix' in condition) return value.startsWith(condition.prefix);
    if ('regex' in condition) return new RegExp(`^(?:${condition.regex})$`).test(value); // RE2: a full match
    throw new Error(`string match ${JSON.stringify(condition)} is not simulated`);
  };
  return string(match.uri, path) && string(match.method, method) && (match.port === undefined || match.port === port);
}

/** The requests that carry an upload's bytes (multipart, tus creation and PATCH). */
export const UPLOAD_REQUESTS: Request[] = [
  { method: 'POST', path: '/api/v1/media/upload', port: 3000 },
  { method: 'POST', path: '/api/v1/media/uploads', port: 3000 },
  { method: 'PATCH', path: '/api/v1/media/uploads/0f8fad5b-d9cb-469f-a165-70867728950e', port: 3000 },
];

/** Uploads reach media-service with retries off and a time-out of at least the service's own hour. */
export function uploadRouteProblems(objects: K8sObject[]): string[] {
  return ofKind(objects, 'VirtualService').flatMap((vs) =>
    UPLOAD_REQUESTS.flatMap(({ method, path, port }) => {
      const route = routeFor(vs, { method, path, port });
      if (!route) return [];
      const where = `VirtualService ${vs.metadata.name}: ${method} ${path} (route ${route.name ?? '?'})`;
      const problems: string[] = [];
      if (route.retries?.attempts !== 0) problems.push(`${where} may be retried`);
      if (durationMs(route.timeout ?? '3600s') < 3_600_000) problems.push(`${where} times out before an hour`);
      return problems;
    }),
  );
}

/** Envoy's retry conditions Istio accepts in retryOn (besides HTTP status codes). */
const RETRY_ON = new Set([
  '5xx',
  'gateway-error',
  'reset',
  'connect-failure',
  'retriable-4xx',
  'refused-stream',
  'retriable-status-codes',
  'retriable-headers',
  'envoy-ratelimited',
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
]);

export function durationMs(duration: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(duration);
  if (!match) return NaN;
  return Number(match[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 'ms' | 's' | 'm' | 'h'];
}

/**
 * What Istio's admission webhook refuses in a route and the schema does not: a time-out
 * under 1 ms (so `timeout: 0s` is refused: leave it out to disable it), retries with
 * conditions but 0 attempts, unknown retry conditions.
 */
export function istioRouteProblems(objects: K8sObject[]): string[] {
  return ofKind(objects, 'VirtualService').flatMap((vs) =>
    ((vs.spec.http ?? []) as Any[]).flatMap((route, i) => {
      const where = `VirtualService ${vs.metadata.name}: route ${route.name ?? i}`;
      const problems: string[] = [];
      for (const [field, value] of [
        ['timeout', route.timeout],
        ['retries.perTryTimeout', route.retries?.perTryTimeout],
      ])
        if (value !== undefined && !(durationMs(value) >= 1 && Number.isInteger(durationMs(value))))
          problems.push(`${where}: ${field} ${value} is not a duration of at least 1 ms`);
      const retries = route.retries;
      if (retries?.attempts === 0 && (retries.perTryTimeout || retries.retryOn))
        problems.push(`${where}: retry settings with attempts 0`);
      for (const condition of (retries?.retryOn ?? '').split(',').filter(Boolean))
        if (!RETRY_ON.has(condition) && !/^[1-5][0-9][0-9]$/.test(condition))
          problems.push(`${where}: "${condition}" is not a retry condition`);
      return problems;
    }),
  );
}
