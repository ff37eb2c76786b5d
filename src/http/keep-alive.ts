import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/**
 * Idle keep-alive connections are kept longer than clients are told. A client that sends
 * on a connection at the moment the server closes it gets a reset (ECONNRESET/EPIPE)
 * instead of an answer; clients reuse a connection for the `Keep-Alive: timeout` the
 * server advertises (undici: minus 2 s), so a server that keeps it a few seconds more
 * closes only connections nobody will use again, even when timers run late on a busy
 * machine. (Node 24 has this as `keepAliveTimeoutBuffer`; Node 20 does not.) 65 s, above
 * the 60 s idle timeouts of common load balancers in front of us.
 */
export const KEEP_ALIVE = { keptMs: 65_000, advertisedSeconds: 55 };

export function keepAliveLongerThanAdvertised(server: Server): void {
  server.keepAliveTimeout = KEEP_ALIVE.keptMs;
  server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
    if (!res.shouldKeepAlive) return;
    // Node writes `Keep-Alive: timeout=<kept>` itself unless the Connection header is set.
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('Keep-Alive', `timeout=${KEEP_ALIVE.advertisedSeconds}`);
  });
}

/** The connection closes after this answer (unless the answer has begun). */
export function closeConnectionAfter(res: ServerResponse): void {
  if (res.headersSent) return;
  res.setHeader('Connection', 'close');
  res.removeHeader('Keep-Alive');
}
