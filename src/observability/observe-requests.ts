import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Metrics } from './metrics.js';
import { requestId } from './logging.js';
import { type Observation, observing } from './observation.js';
import { failed, startServerSpan } from './tracing.js';

/** The Express request as this middleware sees it at the end (its matched route, if any). */
type ObservedRequest = IncomingMessage & { observation?: Observation; route?: { path?: string }; baseUrl?: string };

/**
 * Before anything else runs (body parsers included): the request id, so every answer carries
 * it; the request's Observation, which the rest of the request fills (user, media, stages)
 * for its log line; and, when tracing is on, its server span. One listener at the end
 * records all of it: the request's duration by route pattern (never the raw URL, which holds
 * ids) once an answer was sent, its stage times, and the span.
 */
export function observeRequests(metrics: Metrics) {
  return (req: ObservedRequest, res: ServerResponse, next: () => void): void => {
    const stop = metrics.httpDuration.startTimer();
    const observed: Observation = { requestId: requestId(req, res), stages: {} };
    req.observation = observed;
    const server = startServerSpan(`${req.method} request`, req.headers, {
      'http.request.method': req.method ?? '',
      'url.path': (req.url ?? '').replace(/\?.*/, ''),
      'media.request_id': observed.requestId,
    });
    // A download's answer already carries ten end listeners (Express, pino-http, the in-flight
    // tracker, the disconnect handler, its body's pipeline): this one is expected, not a leak.
    res.setMaxListeners(res.getMaxListeners() + 1);
    res.once('close', () => {
      const route = req.route?.path;
      if (res.writableFinished) {
        stop({
          method: req.method,
          route: `${req.baseUrl ?? ''}${route ?? 'unmatched'}`,
          status: String(res.statusCode),
        });
      }
      metrics.observeStages(observed.stages, observed.mediaType);
      if (!server) return;
      if (route) server.span.updateName(`${req.method} ${req.baseUrl ?? ''}${route}`);
      server.span.setAttribute('http.response.status_code', res.statusCode);
      if (observed.userId) server.span.setAttribute('enduser.id', observed.userId);
      if (observed.mediaId) server.span.setAttribute('media.id', observed.mediaId);
      if (res.statusCode >= 500) failed(server.span, new Error(`status ${res.statusCode}`));
      server.span.end();
    });
    if (server) server.run(() => observing(observed, next));
    else observing(observed, next);
  };
}
