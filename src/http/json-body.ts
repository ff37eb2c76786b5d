import type { IncomingMessage, ServerResponse } from 'node:http';
import { json } from 'express';
import { MediaError } from '../errors.js';

/** The largest JSON body taken (hash-check, blocklist, signed-URL requests are a few hundred bytes). */
export const JSON_BODY_LIMIT = 64 * 1024;

type Next = (error?: unknown) => void;

/**
 * JSON bodies for every route but those that read their own body (the upload takes
 * multipart and must see the body unread, whatever its declared type). Parser refusals
 * become the contract's errors with messages about the body, not about a file.
 */
export function jsonBodies(readsOwnBody: (req: IncomingMessage) => boolean) {
  const parse = json({ limit: JSON_BODY_LIMIT });
  return (req: IncomingMessage, res: ServerResponse, next: Next): void => {
    if (readsOwnBody(req)) return next();
    parse(req as never, res as never, (error?: unknown) => next(error === undefined ? undefined : asMediaError(error)));
  };
}

function asMediaError(error: unknown): unknown {
  switch ((error as { type?: string }).type) {
    case 'entity.too.large':
      return new MediaError('FILE_TOO_LARGE', `The JSON body is larger than ${JSON_BODY_LIMIT / 1024} KiB`);
    case 'entity.parse.failed':
      return new MediaError('VALIDATION_FAILED', 'The JSON body does not parse');
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return new MediaError('VALIDATION_FAILED', 'The JSON body must be UTF-8, without content encoding');
    default:
      return error;
  }
}

/** The body as an object with exactly these fields (each present), or 400. */
export function fieldsOf(body: unknown, names: string[]): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new MediaError('VALIDATION_FAILED', 'The body must be a JSON object');
  const extra = Object.keys(body).filter((name) => !names.includes(name));
  if (extra.length > 0)
    throw new MediaError('VALIDATION_FAILED', `Unexpected field(s): ${extra.join(', ')}; expected ${names.join(', ')}`);
  const missing = names.filter((name) => (body as Record<string, unknown>)[name] === undefined);
  if (missing.length > 0) throw new MediaError('VALIDATION_FAILED', `Missing field(s): ${missing.join(', ')}`);
  return body as Record<string, unknown>;
}
