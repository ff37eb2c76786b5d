import type { Server, ServerResponse } from 'node:http';
import type { CallHandler, NestInterceptor } from '@nestjs/common';
import { finalize } from 'rxjs';
import { closeConnectionAfter } from '../http/keep-alive.js';

/**
 * The HTTP work still running: every response not yet closed, and every route handler not
 * yet settled. Both count because a handler outlives its connection: an upload cut by a
 * reset still deletes its temp file and gives back its quota reservation afterwards, and
 * the database must still be there when it does.
 */
export class InFlight {
  private pending = 0;
  private readonly open = new Set<ServerResponse>();
  private waiters: (() => void)[] = [];
  private draining = false;

  constructor(private readonly server: Server) {
    server.on('request', (_req, res: ServerResponse) => this.track(res));
  }

  /** Requests whose response has not closed yet. */
  get requests(): number {
    return this.open.size;
  }

  /** Responses and handlers still running. */
  get count(): number {
    return this.pending;
  }

  /** Counts each route handler until it settles (register with app.useGlobalInterceptors). */
  interceptor(): NestInterceptor {
    return { intercept: (_context, next: CallHandler) => next.handle().pipe(finalize(this.hold())) };
  }

  /** Stops accepting connections; requests already in flight go on, on connections that close after them. */
  drain(): void {
    this.draining = true;
    this.server.close();
    this.server.closeIdleConnections();
    for (const res of this.open) closeConnectionAfter(res);
  }

  /** Cuts every connection that is left; their requests see an abort. */
  abort(): void {
    this.server.closeAllConnections();
  }

  /** True once nothing is in flight, false if `ms` passes first. */
  idle(ms: number): Promise<boolean> {
    if (this.pending === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  private track(res: ServerResponse): void {
    const release = this.hold();
    this.open.add(res);
    if (this.draining) closeConnectionAfter(res);
    res.once('close', () => {
      this.open.delete(res);
      release();
      // A keep-alive connection whose response had already started goes idle now: close it.
      if (this.draining) this.server.closeIdleConnections();
    });
  }

  private hold(): () => void {
    this.pending++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.pending === 0) for (const wake of this.waiters.splice(0)) wake();
    };
  }
}
