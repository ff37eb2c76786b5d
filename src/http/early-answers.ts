import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { closeConnectionAfter } from './keep-alive.js';

/**
 * Answers given before the request body was read (401, 413, 415, 429, 507 ...) must reach
 * a client that is still sending (docs/api.md, the upload). Two halves:
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
 * After an answer sent before the body was read, the connection is closed in a way every
 * client sees: the answer says `Connection: close`, so no client offers the connection to
 * its next request (undici reuses a connection whose request it finished writing, even if
 * the answer came first, and that next request then met a connection cut under it). The
 * close waits until the rest of the body has been read and discarded (up to DISCARD_LIMITS):
 * closing while the client is still sending resets the connection, and a reset makes Node's
 * fetch and browsers drop the answer they had not yet read. A client waiting for
 * `100 Continue` sends nothing more and closes on reading the answer.
 */
export function discardUnreadBody(req: IncomingMessage, res: ServerResponse, limits = DISCARD_LIMITS): void {
  if (req.complete || req.destroyed) return;
  closeConnectionAfter(res);
  const socket = req.socket;
  let bodyDone = false;
  let answered = false;
  const close = () => socket.destroy();
  const closeWhenBoth = () => bodyDone && answered && close();
  // Node ends a `Connection: close` answer with socket.destroySoon(): the write side is shut
  // at once (the client sees the end of the answer) and the socket destroyed when that is
  // flushed. Here the destroy waits for the end of the discarded body as well.
  socket.destroySoon = () => {
    if (socket.writable) socket.end();
    if (socket.writableFinished) answered = true;
    else socket.once('finish', () => ((answered = true), closeWhenBoth()));
    closeWhenBoth();
  };
  const timer = setTimeout(close, limits.ms).unref();
  req.once('close', () => {
    clearTimeout(timer);
    bodyDone = true;
    closeWhenBoth();
  });
  if ((req as Incoming)[AWAITING_CONTINUE]) return void req.resume();
  req.unpipe();
  let discarded = 0;
  req.on('data', (chunk: Buffer) => (discarded += chunk.length) > limits.bytes && close());
  req.resume();
}
