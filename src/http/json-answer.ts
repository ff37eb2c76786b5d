import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import fresh from 'fresh';

/**
 * A JSON answer as Express's `res.json` writes it, for the edges that answer without Express
 * (the read lane, errors): UTF-8 JSON with its length and a weak ETag of its bytes; a GET or
 * HEAD whose `If-None-Match` holds that ETag gets 304 and no body; a HEAD gets no body.
 */
export function answerJson(req: IncomingMessage, res: ServerResponse, answer: { status: number; body: unknown }): void {
  const { status } = answer;
  const body = Buffer.from(JSON.stringify(answer.body) ?? '', 'utf8');
  const etag = weakEtag(body);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('ETag', etag);
  if (((status >= 200 && status < 300) || status === 304) && isFresh(req, etag)) {
    res.removeHeader('Content-Type');
    res.statusCode = 304;
    return void res.end();
  }
  res.statusCode = status;
  res.setHeader('Content-Length', body.length);
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** The `etag` package's weak tag (Express's default): the length in hex and a SHA-1 prefix. */
function weakEtag(body: Buffer): string {
  const hash = createHash('sha1').update(body).digest('base64').substring(0, 27);
  return `W/"${body.length.toString(16)}-${hash}"`;
}

/** Whether a GET or HEAD already holds this answer (Express's `req.fresh`: the `fresh` package, as downloads use it). */
function isFresh(req: IncomingMessage, etag: string): boolean {
  return (req.method === 'GET' || req.method === 'HEAD') && fresh(req.headers, { etag });
}
