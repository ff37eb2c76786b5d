import { randomUUID } from 'node:crypto';

/** Where encrypted blobs live; the sweeper lists this prefix. */
export const BLOB_PREFIX = 'blobs/';

const KEY_PATTERN = /^[a-z0-9]+(\/[a-z0-9][a-z0-9._-]*)+$/;

/**
 * A new, unguessable object key, spread over 256 directories; under the environment and
 * the media type when given (`blobs/production/video/3f/<uuid>`), so one bucket can serve
 * several environments and lifecycle rules can tell types apart.
 */
export function newBlobKey(where?: { env: string; type: string }): string {
  const id = randomUUID();
  return `${BLOB_PREFIX}${where ? `${where.env}/${where.type}/` : ''}${id.slice(0, 2)}/${id}`;
}

/** Adapters refuse anything that is not a key this service could have made. */
export function assertValidKey(key: string): void {
  if (!KEY_PATTERN.test(key) || key.includes('..')) throw new Error(`invalid blob key: ${JSON.stringify(key)}`);
}
