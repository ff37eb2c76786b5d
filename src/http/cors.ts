import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * CORS for browser clients on the origins of CORS_ALLOWED_ORIGINS (docs/api.md, "Browsers
 * (CORS)"). Every answer the service gives — routed, refused before the body was read, or
 * written on the socket by client-errors.ts — takes its headers from `corsHeaders`, so a
 * page on an allowed origin can read the status and the JSON body of any refusal. There is
 * no Access-Control-Allow-Credentials: tokens travel in the Authorization header only.
 */

/** Methods of the API routes: uploads, tus (POST, HEAD, PATCH, DELETE, GET), downloads, deletion. */
export const CORS_ALLOWED_METHODS = ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'] as const;

/** Request headers a page may send (tus's own, conditional and ranged downloads, our request id). */
export const CORS_ALLOWED_HEADERS = [
  'Authorization',
  'Content-Type',
  'Upload-Length',
  'Upload-Offset',
  'Upload-Metadata',
  'Upload-Checksum',
  'Tus-Resumable',
  'Upload-Concat',
  'X-HTTP-Method-Override',
  'X-Request-Id',
  'Range',
  'If-None-Match',
  'If-Range',
] as const;

/** Response headers a page may read beyond the CORS-safelisted ones. */
export const CORS_EXPOSED_HEADERS = [
  'Location',
  'Upload-Offset',
  'Upload-Length',
  'Upload-Expires',
  'Tus-Resumable',
  'Tus-Version',
  'Tus-Extension',
  'Tus-Max-Size',
  'Tus-Checksum-Algorithm',
  'Media-Id',
  'Media-Status',
  'ETag',
  'Content-Range',
  'Content-Length',
  'Content-Disposition',
  'Accept-Ranges',
  'Retry-After',
  'X-Request-Id',
] as const;

/** How long a browser may reuse a preflight: Chromium's ceiling (Firefox allows a day). */
export const CORS_MAX_AGE_SECONDS = 7200;

type Next = (error?: unknown) => void;

export class CorsPolicy {
  private readonly origins: ReadonlySet<string>;

  /** `origins`: exact origins (scheme://host[:port]), as the configuration validated them. */
  constructor(origins: readonly string[]) {
    this.origins = new Set(origins);
  }

  /** True for an origin of the list (compared exactly: browsers send origins serialised). */
  allows(origin: string | undefined): origin is string {
    return origin !== undefined && this.origins.has(origin);
  }

  /**
   * The headers of an answer to a request from `origin`. Once any origin is allowed, every
   * answer carries `Vary: Origin`, so that a cache never hands the answer to one origin
   * (or to a request without Origin) to another; with none allowed, nothing.
   */
  headersFor(origin: string | undefined): Record<string, string> {
    if (this.origins.size === 0) return {};
    if (!this.allows(origin)) return { Vary: 'Origin' };
    return {
      'Access-Control-Allow-Origin': origin,
      'Access-Control-Expose-Headers': CORS_EXPOSED_HEADERS.join(', '),
      Vary: 'Origin',
    };
  }

  /** The headers of a preflight's answer: for an allowed origin, what it may send and for how long. */
  preflightHeadersFor(origin: string | undefined): Record<string, string> {
    if (!this.allows(origin)) return this.headersFor(origin);
    return {
      'Access-Control-Allow-Origin': origin,
      'Access-Control-Allow-Methods': CORS_ALLOWED_METHODS.join(', '),
      'Access-Control-Allow-Headers': CORS_ALLOWED_HEADERS.join(', '),
      'Access-Control-Max-Age': String(CORS_MAX_AGE_SECONDS),
      Vary: 'Origin',
    };
  }

  /** Sets the headers of an actual answer to `req` on `res` (an existing Vary is kept, Origin added). */
  apply(req: IncomingMessage, res: ServerResponse): void {
    if (res.headersSent) return;
    for (const [name, value] of Object.entries(this.headersFor(originOf(req)))) {
      if (name === 'Vary') addVary(res, value);
      else res.setHeader(name, value);
    }
  }

  /**
   * An Express middleware, registered before every other that may answer: it sets the
   * headers on each answer, and answers preflights itself (204; with the CORS headers only
   * for an allowed origin, so the browser refuses any other). A preflight never reaches a
   * route, a guard or the rate limit, and has no body to wait for.
   */
  middleware() {
    return (req: IncomingMessage, res: ServerResponse, next: Next): void => {
      if (isPreflight(req)) return void res.writeHead(204, this.preflightHeadersFor(originOf(req))).end();
      this.apply(req, res);
      next();
    };
  }
}

/** A CORS preflight (Fetch standard): OPTIONS with Origin and Access-Control-Request-Method. A plain OPTIONS (tus discovery) is not one. */
export function isPreflight(req: IncomingMessage): boolean {
  return (
    req.method === 'OPTIONS' &&
    typeof req.headers.origin === 'string' &&
    typeof req.headers['access-control-request-method'] === 'string'
  );
}

/**
 * The Origin header of raw request bytes (those Node's parser refused, client-errors.ts):
 * taken from the header block only, and only when it arrived before the refusal.
 */
export function originInRawRequest(raw: Buffer | undefined): string | undefined {
  if (!raw) return undefined;
  const text = raw.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  return /\r\norigin:[ \t]*([^\r\n]*?)[ \t]*\r\n/i.exec(end < 0 ? text : text.slice(0, end + 2))?.[1];
}

function originOf(req: IncomingMessage): string | undefined {
  const origin = req.headers.origin;
  return typeof origin === 'string' ? origin : undefined;
}

function addVary(res: ServerResponse, field: string): void {
  const current = res.getHeader('Vary');
  const fields = String(current ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (!fields.some((name) => name === '*' || name.toLowerCase() === field.toLowerCase())) fields.push(field);
  res.setHeader('Vary', fields.join(', '));
}
