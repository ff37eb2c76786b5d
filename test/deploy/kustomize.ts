/**
 * A small kustomize: exactly the subset deploy/kubernetes uses, so that the tests render
 * what `kubectl apply -k` would without kustomize on the machine. A kustomization field or
 * a patch form it does not implement is an error, never silently skipped: a manifest that
 * needs more must come with more here.
 *
 * Implemented, in kustomize's order (resources, then patches, namespace, images):
 * - `resources`: YAML files (several documents each) and directories holding a
 *   kustomization.yaml, rendered first (their own transformations applied);
 * - `patches`: `target: {kind, name}` + inline `patch:` of JSON 6902 add/remove/replace;
 *   a target matching nothing is an error (stricter than kustomize, which ignores it);
 * - `namespace`: set on every namespaced object; a Namespace object must already carry it
 *   (kustomize would rename it; not implemented);
 * - `images`: `name` + `newName`/`newTag`/`digest` on the containers of pod templates.
 * Resource ids (kind, namespace, name) must be unique, as kustomize requires.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments, parse } from 'yaml';

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
};

const KUSTOMIZATION_KEYS = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'images', 'patches']);
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition']);
/** Kinds whose other fields kustomize's namespace transformer also rewrites: not implemented. */
const NAMESPACE_REFERENCING = new Set(['RoleBinding', 'ClusterRoleBinding', 'ValidatingWebhookConfiguration']);
const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job']);

interface Image {
  name: string;
  newName?: string;
  newTag?: string;
  digest?: string;
}
interface Patch {
  target: { kind: string; name: string };
  patch: string;
}
interface Operation {
  op: 'add' | 'remove' | 'replace';
  path: string;
  value?: unknown;
}

/** Renders the kustomization in `dir`. */
export function kustomize(dir: string): K8sObject[] {
  const file = join(dir, 'kustomization.yaml');
  if (!existsSync(file)) throw new Error(`${dir}: no kustomization.yaml`);
  const k = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  for (const key of Object.keys(k))
    if (!KUSTOMIZATION_KEYS.has(key)) throw new Error(`${file}: field "${key}" is not implemented by this renderer`);
  if (k.apiVersion !== 'kustomize.config.k8s.io/v1beta1' || k.kind !== 'Kustomization')
    throw new Error(`${file}: not a kustomize.config.k8s.io/v1beta1 Kustomization`);

  let objects = ((k.resources as string[] | undefined) ?? []).flatMap((entry) => load(resolve(dir, entry)));
  for (const patch of (k.patches as Patch[] | undefined) ?? []) objects = applyPatch(objects, patch, file);
  if (k.namespace !== undefined) objects = objects.map((o) => withNamespace(o, k.namespace as string));
  for (const image of (k.images as Image[] | undefined) ?? []) objects.forEach((o) => setImage(o, image, file));
  assertUniqueIds(objects, file);
  return objects;
}

/** The objects of a YAML file (comments and empty documents dropped). */
export function loadYaml(file: string): K8sObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).flatMap((doc) => {
    if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0].message}`);
    const value = doc.toJS() as K8sObject | null;
    return value === null ? [] : [value];
  });
}

function load(path: string): K8sObject[] {
  return statSync(path).isDirectory() ? kustomize(path) : loadYaml(path);
}

function applyPatch(objects: K8sObject[], patch: Patch, file: string): K8sObject[] {
  for (const key of Object.keys(patch))
    if (key !== 'target' && key !== 'patch') throw new Error(`${file}: patch field "${key}" is not implemented`);
  const { target } = patch;
  for (const key of Object.keys(target ?? {}))
    if (key !== 'kind' && key !== 'name') throw new Error(`${file}: patch target field "${key}" is not implemented`);
  if (!target?.kind || !target.name || typeof patch.patch !== 'string')
    throw new Error(`${file}: a patch needs target.kind, target.name and an inline JSON 6902 patch`);
  const operations = parse(patch.patch) as Operation[];
  if (!Array.isArray(operations))
    throw new Error(`${file}: only JSON 6902 patches (a list of operations) are implemented`);
  let matched = 0;
  const result = objects.map((object) => {
    if (object.kind !== target.kind || object.metadata.name !== target.name) return object;
    matched++;
    return operations.reduce<K8sObject>((o, operation) => applyOperation(o, operation, file), structuredClone(object));
  });
  if (!matched) throw new Error(`${file}: patch target ${target.kind}/${target.name} matches nothing`);
  return result;
}

/** RFC 6902 add, remove and replace (test, move and copy are not implemented). */
export function applyOperation<T>(document: T, operation: Operation, where = 'patch'): T {
  const { op, path } = operation;
  if (!['add', 'remove', 'replace'].includes(op)) throw new Error(`${where}: operation "${op}" is not implemented`);
  if ((op === 'remove') !== !('value' in operation)) throw new Error(`${where}: ${op} ${path}: value misplaced`);
  const tokens = path
    .split('/')
    .slice(1)
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (!path.startsWith('/') || !tokens.length) throw new Error(`${where}: bad path "${path}"`);
  const last = tokens.pop() as string;
  let parent: unknown = document;
  for (const token of tokens) {
    parent = child(parent, token);
    if (parent === undefined) throw new Error(`${where}: ${op} ${path}: "${token}" does not exist`);
  }
  if (Array.isArray(parent)) {
    const index =
      last === '-' && op === 'add' ? parent.length : arrayIndex(last, parent.length + (op === 'add' ? 1 : 0));
    if (index === undefined) throw new Error(`${where}: ${op} ${path}: no index "${last}"`);
    if (op === 'add') parent.splice(index, 0, operation.value);
    else if (op === 'remove') parent.splice(index, 1);
    else parent[index] = operation.value;
  } else if (parent !== null && typeof parent === 'object') {
    const target = parent as Record<string, unknown>;
    if (op !== 'add' && !(last in target)) throw new Error(`${where}: ${op} ${path}: "${last}" does not exist`);
    if (op === 'remove') delete target[last];
    else target[last] = operation.value;
  } else throw new Error(`${where}: ${op} ${path}: the parent is not a container`);
  return document;
}

function child(value: unknown, token: string): unknown {
  if (Array.isArray(value)) {
    const index = arrayIndex(token, value.length);
    return index === undefined ? undefined : value[index];
  }
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[token] : undefined;
}

function arrayIndex(token: string, length: number): number | undefined {
  if (!/^(0|[1-9][0-9]*)$/.test(token)) return undefined;
  const index = Number(token);
  return index < length ? index : undefined;
}

function withNamespace(object: K8sObject, namespace: string): K8sObject {
  if (NAMESPACE_REFERENCING.has(object.kind))
    throw new Error(`${object.kind}/${object.metadata.name}: namespace rewriting of its references is not implemented`);
  if (object.kind === 'Namespace') {
    if (object.metadata.name !== namespace)
      throw new Error(`Namespace ${object.metadata.name} differs from the kustomization's namespace ${namespace}`);
    return object;
  }
  if (CLUSTER_SCOPED.has(object.kind)) return object;
  return { ...object, metadata: { ...object.metadata, namespace } };
}

function setImage(object: K8sObject, image: Image, file: string): void {
  for (const key of Object.keys(image))
    if (!['name', 'newName', 'newTag', 'digest'].includes(key))
      throw new Error(`${file}: images field "${key}" is not implemented`);
  if (object.kind === 'Pod' || object.kind === 'CronJob')
    throw new Error(`${object.kind}: images are only implemented for pod templates`);
  if (!WORKLOADS.has(object.kind)) return;
  const pod = (object.spec as { template: { spec: Record<string, { image: string }[] | undefined> } }).template.spec;
  for (const container of [...(pod.containers ?? []), ...(pod.initContainers ?? [])]) {
    const ref = parseImage(container.image);
    if (ref.name !== image.name) continue;
    const name = image.newName ?? ref.name;
    if (image.digest) container.image = `${name}@${image.digest}`;
    else if (image.newTag) container.image = `${name}:${image.newTag}`;
    else container.image = `${name}${ref.suffix}`;
  }
}

/** `registry:port/path/name:tag@digest` → the name, and what follows it. */
export function parseImage(image: string): { name: string; suffix: string } {
  const at = image.indexOf('@');
  const withoutDigest = at < 0 ? image : image.slice(0, at);
  const colon = withoutDigest.lastIndexOf(':');
  const name = colon > withoutDigest.lastIndexOf('/') ? withoutDigest.slice(0, colon) : withoutDigest;
  return { name, suffix: image.slice(name.length) };
}

function assertUniqueIds(objects: K8sObject[], file: string): void {
  const seen = new Set<string>();
  for (const o of objects) {
    const id = `${o.apiVersion.split('/')[0]}/${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    if (seen.has(id)) throw new Error(`${file}: ${id} is defined twice`);
    seen.add(id);
  }
}
