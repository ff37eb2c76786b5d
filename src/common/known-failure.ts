import { isDatabaseUnavailable } from '../db/unavailable.js';
import { MediaError } from '../errors.js';
import { isOutOfSpace } from '../storage/out-of-space.js';

/**
 * The contract's error for a failure either edge (HTTP, gRPC) answers the same way: our own
 * MediaError, the service's disk full, the database down. Undefined for anything else,
 * which the edge answers as its own kind of error or as INTERNAL_ERROR.
 */
export function knownFailure(exception: unknown): MediaError | undefined {
  // The service's own disk is full (ENOSPC/EDQUOT, also behind an error it caused): 503, not
  // 507, which the contract keeps for the user's quota. Whatever was written is undone as for any failure.
  if (isOutOfSpace(exception)) {
    return new MediaError('DEPENDENCY_UNAVAILABLE', 'The server is out of storage space; try again later', {
      retryAfter: 60,
      cause: exception,
    });
  }
  if (exception instanceof MediaError) return exception;
  if (isDatabaseUnavailable(exception)) {
    return new MediaError('DEPENDENCY_UNAVAILABLE', 'The database is unavailable; try again shortly', {
      retryAfter: 5,
      cause: exception,
    });
  }
  return undefined;
}
