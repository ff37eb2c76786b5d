/**
 * Schemas for the custom resources deploy/ ships that no model package knows: the External
 * Secrets Operator's SecretStore and ExternalSecret (external-secrets.io/v1, ESO >= 0.17).
 * Minimal on purpose: they describe only the fields deploy/kubernetes/secrets uses (names
 * and types from ESO's CRDs), and refuse everything else, so a misspelt or unexpected
 * field fails here rather than at `kubectl apply`. Keyed by `<group>.<version>.<kind>` (the models' style of id: ajv resolves their $refs against it); registered
 * (and made strict) by strict-models.ts.
 */
const OBJECT_META = { $ref: 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta#' };
const DURATION = { type: 'string', pattern: '^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$' };
const NAME = { type: 'string', minLength: 1, maxLength: 253 };

function resource(apiVersion: string, kind: string, spec: object): object {
  return {
    type: 'object',
    required: ['apiVersion', 'kind', 'metadata', 'spec'],
    properties: {
      apiVersion: { type: 'string', enum: [apiVersion] },
      kind: { type: 'string', enum: [kind] },
      metadata: OBJECT_META,
      spec,
    },
  };
}

export const CUSTOM_SCHEMAS: Record<string, object> = {
  'external-secrets.io.v1.SecretStore': resource('external-secrets.io/v1', 'SecretStore', {
    type: 'object',
    required: ['provider'],
    properties: {
      provider: {
        type: 'object',
        required: ['gcpsm'],
        properties: {
          // Google Secret Manager; without `auth`, the controller's own Workload Identity.
          gcpsm: {
            type: 'object',
            required: ['projectID'],
            properties: { projectID: NAME, location: { type: 'string' } },
          },
        },
      },
    },
  }),
  'external-secrets.io.v1.ExternalSecret': resource('external-secrets.io/v1', 'ExternalSecret', {
    type: 'object',
    required: ['secretStoreRef', 'target', 'data'],
    properties: {
      refreshInterval: DURATION,
      secretStoreRef: {
        type: 'object',
        required: ['name'],
        properties: { name: NAME, kind: { type: 'string', enum: ['SecretStore', 'ClusterSecretStore'] } },
      },
      target: {
        type: 'object',
        required: ['name'],
        properties: {
          name: NAME,
          creationPolicy: { type: 'string', enum: ['Owner', 'Orphan', 'Merge', 'None'] },
          deletionPolicy: { type: 'string', enum: ['Delete', 'Merge', 'Retain'] },
        },
      },
      data: {
        type: 'array',
        minItems: 1,
        items: {
          type: 'object',
          required: ['secretKey', 'remoteRef'],
          properties: {
            secretKey: { type: 'string', pattern: '^[-._a-zA-Z0-9]+$' },
            remoteRef: {
              type: 'object',
              required: ['key'],
              properties: { key: NAME, version: { type: 'string' }, property: { type: 'string' } },
            },
          },
        },
      },
    },
  }),
};
