import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/**
 * Answers given before the request body was read (401, 413, 415, 429, 507 ...) must reach
 * a client that is still sending (CONTRACT §2 "Errors"). Two halves:
 * - `Expect: 100-continue`: routes that check before reading (uploads) send the 100 only
 *   once admitted, so a refused client never sends its body;
 * - otherwise the rest of the body is read and discarded for a while after answering;
 *   closing at once makes Node's fetch and browsers report a reset instead of the answer.
 */

const AWAITING_CONTINUE = Symbol('awaitingContinue');
type Incoming = IncomingMessage & { [AWAITING_CONTINUE]?: boolean };

/** How much of a refused body is discarded, and for how long, before the connection is cut. */
export const DISCARD_LIMITS = { bytes: 64 * 1024 * 1024, ms: 10_000 };

/** Defers `100 Continue` on the requests `defers` picks; every other request gets it at once, as Node does by default. */
export function deferContinue(server: Server, defers: (req: IncomingMessage) => boolean): void {
  server.on('checkContinue', (req: Incoming, res: ServerResponse) => {
    if (defers(req)) req[AWAITING_CONTINUE] = true;
    else res.writeContinue();
    server.emit('request', req, res);
  });
}

/** Called when the handler starts reading the body: a client waiting for `100 Continue` gets it now. */
export function continueBody(req: IncomingMessage, res: ServerResponse): void {
  const incoming = req as Incoming;
  if (!incoming[AWAITING_CONTINUE]) return;
  incoming[AWAITING_CONTINUE] = false;
  res.writeContinue();
}

/**
 * After an answer sent before the body was read: a client still waiting for `100 Continue`
 * sends nothing more, so the connection simply closes; any other client's remaining body
 * is discarded (up to DISCARD_LIMITS) so that it reads the answer, and the connection is
 * cut only past those limits.
 */
export function discardUnreadBody(req: IncomingMessage, res: ServerResponse, limits = DISCARD_LIMITS): void {
  if (req.complete || req.destroyed) return;
  if ((req as Incoming)[AWAITING_CONTINUE]) {
    res.setHeader('Connection', 'close');
    return;
  }
  req.unpipe();
  let discarded = 0;
  const cut = () => req.socket.destroy();
  const timer = setTimeout(cut, limits.ms).unref();
  req.on('data', (chunk: Buffer) => (discarded += chunk.length) > limits.bytes && cut());
  req.once('close', () => clearTimeout(timer));
  req.resume();
}
