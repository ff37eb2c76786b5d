import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { knownFailure } from '../common/known-failure.js';
import { discardUnreadBody } from './early-answers.js';
import { ERRORS, type ErrorCode, MediaError } from '../errors.js';

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
 * stack or a path. Unknown errors are logged in full and answered as a bare 500.
 */
@Catch()
export class ErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const req = http.getRequest<Request & { id?: string }>();
    const res = http.getResponse<Response>();
    const error = this.toMediaError(exception);
    if (error.status >= 500) this.logger.error({ err: exception, requestId: req.id }, 'request failed');
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
    res
      .status(error.status)
      .json({ statusCode: error.status, code: error.code, message: error.message, requestId: req.id ?? '' });
  }

  private toMediaError(exception: unknown): MediaError {
    const known = knownFailure(exception);
    if (known) return known;
    const status = exception instanceof HttpException ? exception.getStatus() : statusOfBodyParserError(exception);
    const code = status ? CODE_BY_STATUS[status] : undefined;
    if (!code) return new MediaError('INTERNAL_ERROR');
    return new MediaError(code, status === 404 ? 'Not found' : ERRORS[code].message);
  }
}

/** express body parsers throw plain errors carrying a 4xx status (bad JSON, too large). */
function statusOfBodyParserError(exception: unknown): number | undefined {
  const status = (exception as { status?: unknown })?.status;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}
