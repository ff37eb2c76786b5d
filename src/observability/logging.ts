import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RequestMethod } from '@nestjs/common';
import type { Params } from 'nestjs-pino';
import pino from 'pino';
import type { Options } from 'pino-http';
import type { Metrics } from './metrics.js';
import { type Observation, observing, stagesInMs } from './observation.js';
import { failed, startServerSpan } from './tracing.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

type ObservedRequest = IncomingMessage & { observation?: Observation; params?: Record<string, string> };

/** The request id: the client's X-Request-Id when it is sane, else a new UUID; always echoed. */
export function requestId(req: IncomingMessage, res: ServerResponse): string {
  if (typeof req.id === 'string') return req.id;
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
  res.setHeader('X-Request-Id', id);
  req.id = id;
  return id;
}

/**
 * Before anything else runs (body parsers included): the request id, so every answer carries
 * it; the request's Observation, which the rest of the request fills (user, media, stages)
 * for its log line and metrics; and, when tracing is on, its server span.
 */
export function observeRequests(metrics: Metrics) {
  return (req: ObservedRequest, res: ServerResponse, next: () => void): void => {
    const observed: Observation = { requestId: requestId(req, res), stages: {}, metrics };
    req.observation = observed;
    const server = startServerSpan(`${req.method} request`, req.headers, {
      'http.request.method': req.method ?? '',
      'url.path': (req.url ?? '').replace(/\?.*/, ''),
      'media.request_id': observed.requestId,
    });
    if (!server) return observing(observed, next);
    res.once('close', () => {
      const route = (req as { route?: { path?: string }; baseUrl?: string }).route?.path;
      if (route) server.span.updateName(`${req.method} ${(req as { baseUrl?: string }).baseUrl ?? ''}${route}`);
      server.span.setAttribute('http.response.status_code', res.statusCode);
      if (observed.userId) server.span.setAttribute('enduser.id', observed.userId);
      if (observed.mediaId) server.span.setAttribute('media.id', observed.mediaId);
      if (res.statusCode >= 500) failed(server.span, new Error(`status ${res.statusCode}`));
      server.span.end();
    });
    server.run(() => observing(observed, next));
  };
}

/** What a request's log line says of it beyond pino-http's own: who, which media, the time per stage. */
function observedProps(req: ObservedRequest): Record<string, unknown> {
  const observed = req.observation;
  if (!observed) return {};
  return {
    userId: observed.userId,
    mediaId: observed.mediaId ?? req.params?.id,
    mediaType: observed.mediaType,
    stagesMs: stagesInMs(observed),
  };
}

/** pino JSON logs, one line per request; credentials and signed-URL tokens never reach a log line. */
export function loggingOptions(level: string, file?: string): Params {
  const options: Options = {
    level,
    genReqId: requestId,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
    serializers: {
      req: (req: { id: string; method: string; url: string }) => ({
        id: req.id,
        method: req.method,
        url: req.url.replace(/([?&]token=)[^&]*/g, '$1[redacted]'),
      }),
    },
    customProps: (req) => observedProps(req as ObservedRequest),
    autoLogging: { ignore: (req) => (req.url ?? '').startsWith('/health') || req.url === '/metrics' },
  };
  return {
    pinoHttp: file ? [options, pino.destination({ dest: file, mkdir: true, sync: false })] : options,
    forRoutes: [{ path: '*path', method: RequestMethod.ALL }],
  };
}
