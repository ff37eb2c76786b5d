import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ERRORS } from '../errors.js';
import { type CorsPolicy, originInRawRequest } from './cors.js';

type Answer = { status: number; reason: string; message: string };

/** What Node's own parser refuses is answered with the error body of docs/api.md ("Errors"). */
const ANSWERS: Record<string, Answer> = {
  HPE_HEADER_OVERFLOW: {
    status: 431,
    reason: 'Request Header Fields Too Large',
    message: 'The request headers are too large',
  },
};
const MALFORMED = { status: 400, reason: 'Bad Request', message: ERRORS.VALIDATION_FAILED.message };

/** Errors after which nothing is answered: the client is gone, or too slow to be waited for. */
const UNANSWERED = new Set(['ECONNRESET', 'ERR_HTTP_REQUEST_TIMEOUT']);

/**
 * Requests that Node's HTTP parser refuses (malformed framing, headers over 16 KiB, bytes
 * after a body) never reach a route. Node would answer a bare 400 or 431; this answers with
 * the contract's JSON body and `Connection: close`, unless an answer has already begun on
 * the connection, and then cuts the connection, as Node does. Headers that do not arrive
 * within the server's headersTimeout are cut without an answer. The answer carries the CORS
 * headers when the refused bytes hold an allowed Origin (a page's request with headers over
 * the limit), so that page can read it like any other refusal.
 */
export function answerClientErrors(server: Server, cors: CorsPolicy): void {
  const answering = new WeakMap<Duplex, Set<ServerResponse>>();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const open = answering.get(req.socket) ?? new Set<ServerResponse>();
    answering.set(req.socket, open.add(res));
    res.once('finish', () => open.delete(res)).once('close', () => open.delete(res));
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    const begun = [...(answering.get(socket) ?? [])].some((res) => res.headersSent);
    if (socket.writable && !begun && !UNANSWERED.has(error.code ?? '')) {
      const origin = originInRawRequest((error as { rawPacket?: Buffer }).rawPacket);
      socket.write(rawAnswer(ANSWERS[error.code ?? ''] ?? MALFORMED, cors.headersFor(origin)));
    }
    socket.destroy();
  });
}

function rawAnswer({ status, reason, message }: Answer, extraHeaders: Record<string, string>): string {
  const requestId = randomUUID();
  const body = JSON.stringify({ statusCode: status, code: 'VALIDATION_FAILED', message, requestId });
  return [
    `HTTP/1.1 ${status} ${reason}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    `X-Request-Id: ${requestId}`,
    ...Object.entries(extraHeaders).map(([name, value]) => `${name}: ${value}`),
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}
