/**
 * Offline, strict validation of Kubernetes and Istio objects against the JSON schemas of
 * kubernetes-models and @kubernetes-models/istio.
 *
 * Out of the box those schemas accept any unknown field (their object schemas have no
 * `additionalProperties`), so `replica: 2` or a DestinationRule's `circuitBreaker` would
 * pass. Every model registers its schemas through `register()` of
 * @kubernetes-models/validate (one shared ajv, compiled lazily at the first validate()),
 * so this module wraps that function, before any schema is registered, to register a copy
 * in which every structural object schema refuses unknown fields: a schema with
 * `properties` and no `additionalProperties` gets `additionalProperties: false`, through
 * properties, items and map values. Referenced definitions are registered through the same
 * function, so they are made strict too. Branches of allOf/anyOf/oneOf/not are left alone:
 * there the schemas only constrain (Istio's "one of these fields" rules list `properties`
 * without meaning "only these"); the structure is what properties/items describe, as in a
 * Kubernetes structural schema.
 *
 * Jest gives each test file its own module registry: import this module before validating
 * anything in that file (the models load the same registry's @kubernetes-models/validate).
 */
import { CUSTOM_SCHEMAS } from './crd-schemas';
import type { K8sObject } from './kustomize';

interface Validation {
  register(id: string, schema: unknown): void;
  validate(id: string, data: unknown): void;
}
type Schema = Record<string, unknown>;

const validation: Validation = require('@kubernetes-models/validate');
const register = validation.register;
validation.register = (id, schema) => register(id, strict(structuredClone(schema)));

/** Schema keywords whose value is one subschema, and those whose value maps names to subschemas. */
const SUBSCHEMA = ['items', 'additionalProperties'];
const SUBSCHEMA_MAPS = ['properties', 'patternProperties', 'definitions', '$defs'];

export function strict<T>(node: T): T {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return node;
  const schema = node as Schema;
  for (const key of SUBSCHEMA) {
    const value = schema[key];
    if (Array.isArray(value)) value.forEach(strict);
    else if (value && typeof value === 'object') strict(value);
  }
  for (const key of SUBSCHEMA_MAPS)
    for (const value of Object.values((schema[key] as Schema | undefined) ?? {})) strict(value);
  if (schema.properties && !('additionalProperties' in schema) && !schema['x-kubernetes-preserve-unknown-fields'])
    schema.additionalProperties = false;
  return node;
}

/**
 * API versions no supported cluster serves any more, although the models still have them
 * (they are generated from older OpenAPI documents too).
 */
const REMOVED: Record<string, string> = {
  'autoscaling/v2beta1': 'removed in Kubernetes 1.25 (use autoscaling/v2)',
  'autoscaling/v2beta2': 'removed in Kubernetes 1.26 (use autoscaling/v2)',
  'policy/v1beta1': 'removed in Kubernetes 1.25 (use policy/v1)',
  'batch/v1beta1': 'removed in Kubernetes 1.25 (use batch/v1)',
  'networking.k8s.io/v1beta1': 'removed in Kubernetes 1.22 (use networking.k8s.io/v1)',
  'extensions/v1beta1': 'removed in Kubernetes 1.16/1.22',
};

// The custom schemas refer to ObjectMeta, which a model would otherwise register first.
require('@kubernetes-models/apimachinery/_schemas/IoK8sApimachineryPkgApisMetaV1ObjectMeta').addSchema();
for (const [id, schema] of Object.entries(CUSTOM_SCHEMAS)) validation.register(id, schema);

interface ModelClass {
  apiVersion: string;
  kind: string;
  new (data: unknown): { validate(): void };
}

/** The model class of apiVersion + kind, from kubernetes-models or @kubernetes-models/istio. */
function modelFor(apiVersion: string, kind: string): ModelClass | undefined {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const module = group.endsWith('.istio.io')
    ? `@kubernetes-models/istio/${group}/${version}`
    : `kubernetes-models/${group ? `${group}/` : ''}${version}`;
  let exports: Record<string, ModelClass | undefined>;
  try {
    exports = require(module);
  } catch {
    return undefined;
  }
  const model = exports[kind];
  return model?.apiVersion === apiVersion && model.kind === kind ? model : undefined;
}

/** Throws, naming the object and each violation, unless `object` is valid under the strict schema of its kind. */
export function validateObject(object: K8sObject): void {
  const { apiVersion, kind } = object;
  const what = `${apiVersion} ${kind} ${object.metadata?.name}`;
  if (REMOVED[apiVersion]) throw new Error(`${what}: ${apiVersion} was ${REMOVED[apiVersion]}`);
  const custom = `${apiVersion.replace('/', '.')}.${kind}`;
  try {
    if (CUSTOM_SCHEMAS[custom]) return validation.validate(custom, object);
    const Model = modelFor(apiVersion, kind);
    if (!Model) throw new Error(`no schema for ${apiVersion} ${kind}`);
    new Model(object).validate();
  } catch (error) {
    const errors = (error as { errors?: { instancePath: string; message: string; params: object }[] }).errors;
    const detail = errors
      ? errors.map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`).join('; ')
      : (error as Error).message;
    throw new Error(`${what}: ${detail}`, { cause: error });
  }
}
