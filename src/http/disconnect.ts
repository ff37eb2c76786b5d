import type { ServerResponse } from 'node:http';
import { MediaError } from '../errors.js';

/**
 * A signal aborted when the client goes away before its answer was sent, including when
 * it is already gone: Node may destroy the connection (a parse error right after the body,
 * a half-close) before the handler runs, and then no 'close' comes any more.
 */
export function abortedOnDisconnect(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  const abort = () =>
    res.writableFinished || controller.abort(new MediaError('VALIDATION_FAILED', 'The upload was interrupted'));
  if (res.closed || res.destroyed) abort();
  else res.once('close', abort);
  return controller.signal;
}
