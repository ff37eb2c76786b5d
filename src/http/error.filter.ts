import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { knownFailure } from '../common/known-failure.js';
import { discardUnreadBody } from './early-answers.js';
import { ERRORS, type ErrorCode, MediaError } from '../errors.js';
import { answerJson } from './json-answer.js';

const logger = new Logger('HTTP');

const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  413: 'FILE_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  416: 'RANGE_NOT_SATISFIABLE',
  429: 'RATE_LIMITED',
  503: 'DEPENDENCY_UNAVAILABLE',
};

/**
 * The one place errors become HTTP: `{ statusCode, code, message, requestId }`, never a
 * stack or a path. Unknown errors are logged in full and answered as a bare 500. Nest's
 * routes reach it through ErrorFilter; the read lane calls it directly.
 */
export function answerError(exception: unknown, req: IncomingMessage & { id?: unknown }, res: ServerResponse): void {
  const error = toMediaError(exception);
  const requestId = typeof req.id === 'string' ? req.id : '';
  // A client that hangs up mid-answer (a phone losing its network) is no failure of ours.
  if (error.status >= 500 && !clientLeft(exception, res))
    logger.error({ err: exception, requestId: req.id }, 'request failed');
  if (res.headersSent) {
    res.destroy(); // mid-stream: the client must not mistake a cut body for a whole one
    return;
  }
  // An answer before the body was read (401, 413, 415, 429, 507 ...) must still reach the client.
  discardUnreadBody(req, res);
  if (error.retryAfter !== undefined) res.setHeader('Retry-After', String(error.retryAfter));
  // RFC 6750 §3: how to authenticate, and whether the token given was the problem.
  if (error.status === 401)
    res.setHeader('WWW-Authenticate', req.headers.authorization ? 'Bearer error="invalid_token"' : 'Bearer');
  answerJson(req, res, {
    status: error.status,
    body: { statusCode: error.status, code: error.code, message: error.message, requestId },
  });
}

/** Every error a Nest route or middleware throws, unknown routes included (bootstrap.ts). */
@Catch()
export class ErrorFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    answerError(exception, http.getRequest<IncomingMessage>(), http.getResponse<ServerResponse>());
  }
}

function toMediaError(exception: unknown): MediaError {
  const known = knownFailure(exception);
  if (known) return known;
  const status = exception instanceof HttpException ? exception.getStatus() : statusOfBodyParserError(exception);
  const code = status ? CODE_BY_STATUS[status] : undefined;
  if (!code) return new MediaError('INTERNAL_ERROR');
  return new MediaError(code, status === 404 ? 'Not found' : ERRORS[code].message);
}

/** The answer's stream ended because its connection closed before it was written whole. */
function clientLeft(exception: unknown, res: ServerResponse): boolean {
  return (exception as { code?: unknown })?.code === 'ERR_STREAM_PREMATURE_CLOSE' && res.destroyed;
}

/** express body parsers throw plain errors carrying a 4xx status (bad JSON, too large). */
function statusOfBodyParserError(exception: unknown): number | undefined {
  const status = (exception as { status?: unknown })?.status;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}
