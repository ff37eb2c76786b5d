/**
 * deploy/kubernetes and deploy/istio, offline: rendered as `kubectl apply -k` would
 * (./kustomize.ts), every object validated against the strict schema of its apiVersion and
 * kind (./strict-models.ts), then held to what the schemas cannot say: Istio protocol
 * names, probes, targets that exist, no retried uploads, ALLOW rules with both `from` and
 * `to`, every variable known to the service's config schema, secrets only by reference.
 * Nothing is applied to a cluster: there is none here.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import { envSchema } from '../../src/config/config.schema';
import { validateObject } from './strict-models';
import { kustomize, loadYaml, type K8sObject } from './kustomize';
import {
  allowRuleProblems,
  istioRouteProblems,
  ofKind,
  podTemplates,
  probeProblems,
  routeFor,
  serviceDeployments,
  servicePortProblems,
  targetProblems,
  UPLOAD_REQUESTS,
  uploadRouteProblems,
} from './checks';

const ROOT = join(__dirname, '..', '..');
const KUBERNETES = join(ROOT, 'deploy', 'kubernetes');
const NAMESPACE = 'whispr';
const SECRET = 'media-service-secrets';

/** Variables whose value is a secret: never a literal in a manifest, always a secretKeyRef. */
const SECRET_VARIABLES = [
  'DATABASE_URL',
  'REDIS_URL',
  'MEDIA_MASTER_KEYS',
  'SIGNED_URL_KEYS',
  'AUTH_JWT_SECRET',
  'AUTH_JWT_PUBLIC_KEY',
  'GRPC_API_TOKEN',
  'S3_ACCESS_KEY_ID',
  'S3_SECRET_ACCESS_KEY',
];
const SCHEMA_KEYS = new Set(Object.keys((envSchema.describe() as { keys: object }).keys));

const RENDERS: Record<string, K8sObject[]> = {
  base: kustomize(join(KUBERNETES, 'base')),
  dev: kustomize(join(KUBERNETES, 'overlays', 'dev')),
  prod: kustomize(join(KUBERNETES, 'overlays', 'prod')),
};
const EXAMPLES = loadYaml(join(ROOT, 'deploy', 'istio', 'peer-authorization.example.yaml'));

/** A container's environment: its ConfigMaps (envFrom) and its own entries, literal values and references apart. */
function environment(objects: K8sObject[], container: any) {
  const configMaps = ofKind(objects, 'ConfigMap');
  const literal: Record<string, string> = {};
  const references: Record<string, any> = {};
  for (const source of container.envFrom ?? []) {
    const map = configMaps.find((m) => m.metadata.name === source.configMapRef?.name);
    if (!map) throw new Error(`${container.name}: envFrom names no ConfigMap of the render`);
    Object.assign(literal, map.data);
  }
  for (const variable of container.env ?? []) {
    if ('value' in variable) literal[variable.name] = variable.value;
    else {
      delete literal[variable.name];
      references[variable.name] = variable.valueFrom;
    }
  }
  return { literal, references, names: [...Object.keys(literal), ...Object.keys(references)] };
}

/** The files of the Secret mounted in the pod's container: path → the Secret's key. */
function secretFiles(pod: any): Map<string, string> {
  const files = new Map<string, string>();
  for (const mount of pod.containers[0].volumeMounts ?? []) {
    const volume = (pod.volumes ?? []).find((v: any) => v.name === mount.name);
    if (volume?.secret?.secretName !== SECRET) continue;
    for (const item of volume.secret.items ?? []) files.set(`${mount.mountPath}/${item.path}`, item.key);
  }
  return files;
}

describe.each(Object.keys(RENDERS))('deploy/kubernetes, %s', (render) => {
  const objects = RENDERS[render];
  const deployments = serviceDeployments(objects);

  it('renders the expected objects', () => {
    const ids = objects.map((o) => `${o.kind}/${o.metadata.name}`);
    for (const id of [
      'ServiceAccount/media-service',
      'ConfigMap/media-service-config',
      'Deployment/media-service-api',
      'Deployment/media-service-worker',
      'Deployment/media-service-video-worker',
      'Deployment/media-service-clamd',
      'Service/media-service',
      'Service/media-service-clamd',
      'HorizontalPodAutoscaler/media-service-api',
      'PeerAuthentication/media-service',
      'AuthorizationPolicy/media-service-api',
      'DestinationRule/media-service',
      'VirtualService/media-service-edge',
    ])
      expect(ids).toContain(id);
  });

  it('validates every object against the strict schema of its kind', () => {
    const failures = objects.flatMap((o) => {
      try {
        validateObject(o);
        return [];
      } catch (error) {
        return [(error as Error).message];
      }
    });
    expect(failures).toEqual([]);
  });

  it('names every Service port for Istio, and points Services, HPAs and PDBs at existing Deployments', () => {
    expect(servicePortProblems(objects)).toEqual([]);
    expect(targetProblems(objects)).toEqual([]);
    const api = ofKind(objects, 'Service').find((s) => s.metadata.name === 'media-service');
    expect(api.spec.ports.map((p: any) => [p.name, p.port, p.appProtocol])).toEqual([
      ['http', 3000, 'http'],
      ['grpc', 50051, 'grpc'],
    ]);
    const clamd = ofKind(objects, 'Service').find((s) => s.metadata.name === 'media-service-clamd');
    expect(clamd.spec.ports.map((p: any) => [p.name, p.port])).toEqual([['tcp-clamd', 3310]]);
  });

  it('probes, identity, grace period and a read-only non-root container for every media-service pod', () => {
    expect(probeProblems(objects)).toEqual([]);
    expect(deployments.map((d) => d.deployment.metadata.name).sort()).toEqual([
      'media-service-api',
      'media-service-video-worker',
      'media-service-worker',
    ]);
    for (const { pod } of deployments) {
      expect(pod.serviceAccountName).toBe('media-service');
      expect(pod.terminationGracePeriodSeconds).toBe(30);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
      const [container] = pod.containers;
      expect(container.securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
      });
      const { literal } = environment(objects, container);
      // Requests in flight finish within the grace period, with room for the rest of the stop.
      expect(Number(literal.SHUTDOWN_GRACE_SECONDS)).toBe(25);
      // Writable places on a read-only root: DATA_DIR and /tmp, each an emptyDir.
      const mounts = Object.fromEntries(container.volumeMounts.map((m: any) => [m.mountPath, m.name]));
      for (const path of [literal.DATA_DIR, '/tmp']) {
        const volume = pod.volumes.find((v: any) => v.name === mounts[path]);
        expect(volume?.emptyDir).toBeDefined();
      }
      for (const kind of ['requests', 'limits'])
        expect(Object.keys(container.resources[kind]).sort()).toEqual(['cpu', 'memory']);
    }
  });

  it('gives each role its MEDIA_ROLE; only the video worker runs on the video pool, outside dev', () => {
    const role = (name: string) =>
      environment(objects, deployments.find((d) => d.deployment.metadata.name === name)!.pod.containers[0]).literal
        .MEDIA_ROLE;
    expect(role('media-service-api')).toBe('api');
    expect(role('media-service-worker')).toBe('worker');
    expect(role('media-service-video-worker')).toBe('worker');
    for (const { deployment, pod } of deployments) {
      const onVideoPool = pod.nodeSelector?.['whispr.io/pool'] === 'video';
      expect([deployment.metadata.name, onVideoPool]).toEqual([
        deployment.metadata.name,
        deployment.metadata.name === 'media-service-video-worker' && render !== 'dev',
      ]);
    }
  });

  it('sets only variables the config schema knows, with values it accepts', () => {
    for (const { deployment, pod } of deployments) {
      const { literal, names } = environment(objects, pod.containers[0]);
      const unknown = names.filter((name) => !SCHEMA_KEYS.has(name));
      expect([deployment.metadata.name, unknown]).toEqual([deployment.metadata.name, []]);
      const { error } = envSchema.validate(literal, { abortEarly: false });
      expect([deployment.metadata.name, error?.message]).toEqual([deployment.metadata.name, undefined]);
    }
  });

  it('takes every secret from the Secret by reference, never as a literal', () => {
    expect(ofKind(objects, 'Secret')).toEqual([]);
    for (const map of ofKind(objects, 'ConfigMap'))
      expect(Object.keys(map.data ?? {}).filter((key) => SECRET_VARIABLES.includes(key))).toEqual([]);
    for (const { deployment, pod } of deployments) {
      const { literal, references } = environment(objects, pod.containers[0]);
      expect([deployment.metadata.name, Object.keys(literal).filter((k) => SECRET_VARIABLES.includes(k))]).toEqual([
        deployment.metadata.name,
        [],
      ]);
      for (const [name, from] of Object.entries(references))
        expect([name, from.secretKeyRef?.name, from.secretKeyRef?.key]).toEqual([name, SECRET, name]);
      // What production refuses to start without (src/config/load-config.ts): by reference, or,
      // for the key lists, as a file of the Secret mounted where *_FILE points.
      const files = secretFiles(pod);
      const required = ['DATABASE_URL', 'MEDIA_MASTER_KEYS', 'SIGNED_URL_KEYS', 'AUTH_JWT_PUBLIC_KEY'];
      if (literal.GRPC_HOST && literal.GRPC_HOST !== '127.0.0.1') required.push('GRPC_API_TOKEN');
      const given = (name: string) =>
        (references[name] && !references[name].secretKeyRef.optional) || files.get(literal[`${name}_FILE`]) === name;
      expect(required.filter((name) => !given(name))).toEqual([]);
    }
    // Nothing that looks like a key (keyId:base64 of 32 bytes, a PEM block) anywhere in the render.
    const text = JSON.stringify(objects);
    expect(text).not.toMatch(/[A-Za-z0-9+/]{43}=/);
    expect(text).not.toMatch(/-----BEGIN/);
  });

  it('routes no upload with retries, and keeps every route within what Istio admits', () => {
    expect(uploadRouteProblems(objects)).toEqual([]);
    expect(istioRouteProblems(objects)).toEqual([]);
    const edge = ofKind(objects, 'VirtualService').find((v) => v.metadata.name === 'media-service-edge');
    for (const request of UPLOAD_REQUESTS) expect(routeFor(edge, request)?.name).toBe('uploads');
    const download = routeFor(edge, { method: 'GET', path: '/api/v1/media/0f8fad5b-d9cb-469f-a165-70867728950e' });
    expect(download.retries).toEqual({
      attempts: 2,
      retryOn: 'connect-failure,refused-stream,unavailable,cancelled,503',
    });
  });

  it('holds every ALLOW rule to one caller and its operations, and names this namespace in principals', () => {
    expect(allowRuleProblems(objects)).toEqual([]);
    const api = ofKind(objects, 'AuthorizationPolicy').find((p) => p.metadata.name === 'media-service-api');
    const grpcPaths = api.spec.rules.flatMap((r: any) => r.to.flatMap((t: any) => t.operation.paths ?? []));
    const proto = readFileSync(join(ROOT, 'proto', 'media.proto'), 'utf8');
    const methods = [...proto.matchAll(/^\s*rpc (\w+)\(/gm)].map((m) => `/media.v1.MediaService/${m[1]}`);
    expect(grpcPaths.filter((p: string) => p.startsWith('/media.v1.')).sort()).toEqual(methods.sort());
    const principals = ofKind(objects, 'AuthorizationPolicy').flatMap((p) =>
      (p.spec.rules ?? []).flatMap((r: any) => r.from.flatMap((f: any) => f.source.principals ?? [])),
    );
    for (const principal of principals.filter((p: string) => !p.includes('/ns/istio-system/')))
      expect(principal).toMatch(new RegExp(`^cluster\\.local/ns/${NAMESPACE}/sa/`));
  });

  if (render !== 'base')
    it(`puts every namespaced object in ${NAMESPACE}`, () => {
      const elsewhere = objects.filter((o) => o.kind !== 'Namespace' && o.metadata.namespace !== NAMESPACE);
      expect(elsewhere.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([]);
    });
});

describe('deploy/kubernetes, prod', () => {
  const objects = RENDERS.prod;

  it('runs released images, never a moving tag', () => {
    const images = serviceDeployments(objects).map(({ pod }) => pod.containers[0].image);
    for (const image of images) expect(image).toMatch(/^[a-z0-9.-]+\/.+:(\d+\.\d+\.\d+)$/);
  });

  it('syncs every key the Deployments require into the Secret they read', () => {
    const [external] = ofKind(objects, 'ExternalSecret');
    expect(external.spec.target.name).toBe(SECRET);
    expect(ofKind(objects, 'SecretStore').map((s) => s.metadata.name)).toEqual([external.spec.secretStoreRef.name]);
    const synced = new Set(external.spec.data.map((d: any) => d.secretKey));
    const required = serviceDeployments(objects).flatMap(({ pod }) => [
      ...(pod.containers[0].env as any[])
        .filter((e) => e.valueFrom?.secretKeyRef && !e.valueFrom.secretKeyRef.optional)
        .map((e) => e.valueFrom.secretKeyRef.key),
      ...secretFiles(pod).values(),
    ]);
    expect(required.filter((key) => !synced.has(key))).toEqual([]);
  });

  it('uses the GCS driver through Workload Identity', () => {
    const config = ofKind(objects, 'ConfigMap').find((m) => m.metadata.name === 'media-service-config');
    expect(config.data).toMatchObject({ STORAGE_DRIVER: 'gcs', GCS_BUCKET: expect.any(String) });
    expect(Object.keys(config.data).filter((k) => k.startsWith('S3_'))).toEqual([]);
    const [account] = ofKind(objects, 'ServiceAccount');
    expect(account.metadata.annotations['iam.gke.io/gcp-service-account']).toMatch(/@.+\.iam\.gserviceaccount\.com$/);
  });
});

describe('deploy/kubernetes, base', () => {
  it('asks for the resources the service was sized for', () => {
    const resources = Object.fromEntries(
      podTemplates(RENDERS.base).map(({ deployment, pod }) => [deployment.metadata.name, pod.containers[0].resources]),
    );
    expect(resources).toEqual({
      'media-service-api': { requests: { cpu: '500m', memory: '768Mi' }, limits: { cpu: '2', memory: '1536Mi' } },
      'media-service-worker': { requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: '2', memory: '2Gi' } },
      'media-service-video-worker': { requests: { cpu: '2', memory: '2Gi' }, limits: { cpu: '4', memory: '4Gi' } },
      // clamd holds about 1.2 GB of signatures, twice that during a reload.
      'media-service-clamd': { requests: { cpu: '500m', memory: '2Gi' }, limits: { cpu: '1', memory: '3Gi' } },
    });
  });
});

describe('deploy/istio examples (the peers’ policies)', () => {
  it('validate strictly, with every ALLOW rule holding both from and to', () => {
    for (const object of EXAMPLES) validateObject(object);
    expect(allowRuleProblems(EXAMPLES)).toEqual([]);
  });
});

describe('every manifest file is used', () => {
  it('is named by a kustomization (or is an example)', () => {
    const files = (dir: string): string[] =>
      readdirSync(dir).flatMap((name) => {
        const path = join(dir, name);
        return statSync(path).isDirectory() ? files(path) : [path];
      });
    const all = files(KUBERNETES).filter((f) => f.endsWith('.yaml'));
    const named = new Set(
      all
        .filter((f) => f.endsWith('kustomization.yaml'))
        .flatMap((k) => {
          const { resources = [] } = parse(readFileSync(k, 'utf8')) as { resources?: string[] };
          return [k, ...resources.map((r) => join(k, '..', r))];
        }),
    );
    expect(all.filter((f) => !named.has(f)).map((f) => relative(ROOT, f))).toEqual([]);
  });
});

describe('strictness: what the checks above catch', () => {
  const base = RENDERS.base;
  const find = (kind: string, name: string): any =>
    structuredClone(base.find((o) => o.kind === kind && o.metadata.name === name)!);

  it('refuses a DestinationRule with the seed’s circuitBreaker field', () => {
    const rule = find('DestinationRule', 'media-service');
    rule.spec.trafficPolicy.circuitBreaker = { maxConnections: 100 };
    expect(() => validateObject(rule)).toThrow(/additionalProperty.*circuitBreaker/);
  });

  it('refuses a misspelt field deep in a Deployment, and one at the top of its spec', () => {
    const deployment = find('Deployment', 'media-service-api');
    deployment.spec.replica = 2;
    expect(() => validateObject(deployment)).toThrow(/\/spec must NOT have additional properties.*replica/);
    const probe = find('Deployment', 'media-service-api');
    probe.spec.template.spec.containers[0].readinessProbe.httpGet.paht = '/health/ready';
    expect(() => validateObject(probe)).toThrow(/paht/);
  });

  it('refuses an HorizontalPodAutoscaler under a wrong apiVersion', () => {
    const hpa = find('HorizontalPodAutoscaler', 'media-service-api');
    expect(() => validateObject({ ...hpa, apiVersion: 'autoscaling/v2beta2' })).toThrow(/removed in Kubernetes 1\.26/);
    // autoscaling/v1 exists, but has no `metrics` (only targetCPUUtilizationPercentage).
    expect(() => validateObject({ ...hpa, apiVersion: 'autoscaling/v1' })).toThrow(/additionalProperty.*metrics/);
    expect(() => validateObject({ ...hpa, apiVersion: 'autoscaling/v3' })).toThrow(/no schema/);
  });

  it('catches an AuthorizationPolicy whose from and to are split into two rules (the schema alone accepts it)', () => {
    const policy = find('AuthorizationPolicy', 'media-service-api');
    const [rule] = policy.spec.rules;
    policy.spec.rules = [{ from: rule.from }, { to: rule.to }];
    expect(() => validateObject(policy)).not.toThrow();
    expect(allowRuleProblems([policy])).toEqual([
      'AuthorizationPolicy media-service-api: rule 0 lacks from or to',
      'AuthorizationPolicy media-service-api: rule 1 lacks from or to',
    ]);
  });

  it('catches a retried upload route, and a time-out Istio would refuse', () => {
    const edge = find('VirtualService', 'media-service-edge');
    edge.spec.http[0].retries = { attempts: 2, retryOn: '5xx' };
    expect(uploadRouteProblems([edge])).toHaveLength(3);
    edge.spec.http[0].timeout = '0s';
    expect(istioRouteProblems([edge])).toEqual([
      'VirtualService media-service-edge: route uploads: timeout 0s is not a duration of at least 1 ms',
    ]);
  });

  it('refuses an unexpected field in the ExternalSecret (a schema of ours)', () => {
    const external: any = structuredClone(ofKind(RENDERS.prod, 'ExternalSecret')[0]);
    external.spec.data[0].remoteRef.versoin = 'latest';
    expect(() => validateObject(external)).toThrow(/versoin/);
  });

  it('refuses a kustomization field the renderer does not implement', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kustomize-'));
    try {
      writeFileSync(
        join(dir, 'kustomization.yaml'),
        'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\ncommonLabels: {a: b}\n',
      );
      expect(() => kustomize(dir)).toThrow(/field "commonLabels" is not implemented/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
