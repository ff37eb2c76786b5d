import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RequestMethod } from '@nestjs/common';
import { type Params, PinoLogger } from 'nestjs-pino';
import pino from 'pino';
import { type HttpLogger, type Options, pinoHttp } from 'pino-http';
import { type Observation, stagesInMs } from './observation.js';

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

/** What a request's log line says of it beyond pino-http's own: who, which media, the time per stage. */
function observedProps(req: IncomingMessage): Record<string, unknown> {
  const { observation: observed, params } = req as ObservedRequest;
  if (!observed) return {};
  return {
    userId: observed.userId,
    mediaId: observed.mediaId ?? params?.id,
    mediaType: observed.mediaType,
    stagesMs: stagesInMs(observed),
  };
}

/** pino-http's options: request lines whose credentials and signed-URL tokens never reach a log line. */
function requestLineOptions(level: string): Options {
  return {
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
    customProps: observedProps,
    autoLogging: { ignore: (req) => (req.url ?? '').startsWith('/health') || req.url === '/metrics' },
  };
}

/**
 * Request lines are written at info. Above it, pino-http would only repeat as a line the
 * error the error filter logs already, at a cost on every request (a child logger, three
 * listeners): it is not installed. The request id is observeRequests' work either way.
 */
function writesRequestLines(level: string): boolean {
  return (pino.levels.values[level] ?? Infinity) <= pino.levels.values.info;
}

/** pino JSON logs, one line per request (nestjs-pino's middleware on every Nest route). */
export function loggingOptions(level: string, file?: string): Params {
  const options = requestLineOptions(level);
  return {
    pinoHttp: file ? [options, pino.destination({ dest: file, mkdir: true, sync: false })] : options,
    forRoutes: writesRequestLines(level) ? [{ path: '*path', method: RequestMethod.ALL }] : [],
  };
}

/**
 * The same request lines for requests served outside Nest (the read lane), written through
 * the logger nestjs-pino made (so to the same destination); undefined when none are written.
 * Call after the application's init, which makes that logger.
 */
export function requestLines(level: string): HttpLogger | undefined {
  if (!writesRequestLines(level)) return undefined;
  return pinoHttp({ ...requestLineOptions(level), logger: PinoLogger.root });
}
