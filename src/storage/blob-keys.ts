import { randomUUID } from 'node:crypto';

/** Where encrypted blobs live; the sweeper lists this prefix. */
export const BLOB_PREFIX = 'blobs/';

const KEY_PATTERN = /^[a-z0-9]+(\/[a-z0-9][a-z0-9._-]*)+$/;

/** A new, unguessable object key, spread over 256 directories. */
export function newBlobKey(): string {
  const id = randomUUID();
  return `${BLOB_PREFIX}${id.slice(0, 2)}/${id}`;
}

/** Adapters refuse anything that is not a key this service could have made. */
export function assertValidKey(key: string): void {
  if (!KEY_PATTERN.test(key) || key.includes('..')) throw new Error(`invalid blob key: ${JSON.stringify(key)}`);
}
