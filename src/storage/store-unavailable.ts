import { MediaError } from '../errors.js';

/** Socket-level failures: the store could not be reached, or the connection broke. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
]);
/** The same in words: the AWS SDK wraps an error of another realm (as under Jest) into a message. */
const NETWORK_TEXT =
  /\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)\b|socket hang up/;
const MAX_DEPTH = 5;

/**
 * True when `error` means "the object store is down, overloaded or too slow" (a time-out,
 * a refused or broken connection, a 5xx or 429 answer), anywhere in its cause chain.
 * Covers both SDKs: AWS (`name` TimeoutError, `$metadata.httpStatusCode`) and Google's
 * (`code` the HTTP status, node-fetch's `type` request-timeout).
 */
export function isStoreUnavailable(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > MAX_DEPTH) return false;
  const known = error as {
    name?: unknown;
    code?: unknown;
    message?: unknown;
    type?: unknown;
    $metadata?: { httpStatusCode?: number };
    cause?: unknown;
  };
  if (known.name === 'TimeoutError' || known.type === 'request-timeout') return true;
  if (typeof known.code === 'string' && NETWORK_CODES.has(known.code)) return true;
  if (typeof known.message === 'string' && NETWORK_TEXT.test(known.message)) return true;
  const status = known.$metadata?.httpStatusCode ?? (typeof known.code === 'number' ? known.code : undefined);
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  return isStoreUnavailable(known.cause, depth + 1);
}

/**
 * What a failed store call throws: 503 DEPENDENCY_UNAVAILABLE with Retry-After when the store
 * is unavailable (a client may try again), the error itself otherwise (a bug or a
 * misconfiguration, e.g. a wrong bucket or credentials: 500, logged in full).
 */
export function storeFailure(error: unknown): unknown {
  if (!isStoreUnavailable(error)) return error;
  return new MediaError('DEPENDENCY_UNAVAILABLE', 'The storage is unavailable; try again shortly', {
    retryAfter: 5,
    cause: error,
  });
}
