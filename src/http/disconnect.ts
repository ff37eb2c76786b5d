import type { ServerResponse } from 'node:http';
import { MediaError } from '../errors.js';

/** A signal aborted when the client goes away before its answer was sent. */
export function abortedOnDisconnect(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => res.writableFinished || controller.abort(new MediaError('VALIDATION_FAILED', 'The upload was interrupted')));
  return controller.signal;
}
