import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { finalize, type Observable } from 'rxjs';
import { closeConnectionAfter } from '../http/keep-alive.js';

/** The InFlight of each HTTP server that has one (main.ts makes it; an app in a test may have none). */
const inFlightOf = new WeakMap<object, InFlight>();

/**
 * The HTTP work still running: every response not yet closed, and every state-changing route
 * handler not yet settled (HoldsShutdown). Both count because a handler outlives its
 * connection: an upload cut by a reset still deletes its temp file and gives back its quota
 * reservation afterwards, and the database must still be there when it does.
 */
export class InFlight {
  private pending = 0;
  private readonly open = new Set<ServerResponse>();
  private waiters: (() => void)[] = [];
  private draining = false;

  constructor(private readonly server: Server) {
    inFlightOf.set(server, this);
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

  /** Counts one more piece of work until the function it returns is called. */
  hold(): () => void {
    this.pending++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.pending === 0) for (const wake of this.waiters.splice(0)) wake();
    };
  }
}

/**
 * Counts a route handler until it settles, on the routes whose work may outlive their
 * connection: those that change state (an upload cut by a reset still removes its temp file
 * and gives back its reservation; a delete finishes its transaction). Reads have nothing to
 * finish once their answer is gone, and skip it: a route without interceptors does not go
 * through Nest's rxjs chain at all.
 */
@Injectable()
export class HoldsShutdown implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const socket = context.switchToHttp().getRequest<IncomingMessage>().socket as Socket & { server?: object };
    const inFlight = socket.server && inFlightOf.get(socket.server);
    return inFlight ? next.handle().pipe(finalize(inFlight.hold())) : next.handle();
  }
}
