/**
 * A real user-service stand-in: a @grpc/grpc-js server speaking proto/user.proto on
 * 127.0.0.1. It keeps a stored total per user and applies each delta_id once (the contract
 * our outbox relies on: a change may be sent again after a lost answer). A test sets its
 * behaviour at any time (up, slow, failing, flapping), reads what it received (with the
 * x-request-id metadata), and can stop() and start() it again on the same port.
 */
import * as grpc from '@grpc/grpc-js';
import { loadUserService } from '../../src/peers/user.client';

interface Delta {
  userId: string;
  deltaId: string;
  deltaBytes: number;
  deltaFiles: number;
}

export class UserServer {
  readonly quotaLookups: { userId: string }[] = [];
  /** UpdateStorageUsage requests as received, redeliveries included. */
  readonly deltas: Delta[] = [];
  /** The x-request-id metadata of every call, '' when absent. */
  readonly requestIds: string[] = [];
  /** Calls the client cancelled (abort or deadline) while we were still delaying. */
  cancelled = 0;
  /** Each user's plan; a user not here gets zeros ("use your default"). */
  readonly quotas = new Map<string, { storageBytes: number; dailyUploads: number }>();
  /** Each user's stored total, as the applied deltas made it. */
  readonly usage = new Map<string, { bytes: number; files: number }>();
  /** The delta_ids applied so far. */
  readonly applied = new Set<string>();

  private failure?: { code: grpc.status; times: number };
  private flapping?: { code: grpc.status; calls: number };
  private slow?: { ms: number; times: number };
  private server?: grpc.Server;
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(public port: number) {}

  static async start(): Promise<UserServer> {
    const stub = new UserServer(0);
    await stub.start();
    return stub;
  }

  get url(): string {
    return `127.0.0.1:${this.port}`;
  }

  get requestCount(): number {
    return this.quotaLookups.length + this.deltas.length;
  }

  /** Answer every call at once again: no delay, no failure, no flapping. */
  up(): this {
    this.slow = undefined;
    this.failure = undefined;
    this.flapping = undefined;
    return this;
  }

  /** Wait `ms` before the next `times` answers (or failures), all by default: longer than the client's deadline is "slow". */
  delay(ms: number, times = Infinity): this {
    this.slow = { ms, times };
    return this;
  }

  /** Fail the next `times` calls (all, by default) with `code`, then answer again. */
  fail(code: grpc.status, times = Infinity): this {
    this.failure = { code, times };
    return this;
  }

  /** Fail every other call with `code`, starting with the next one. */
  flap(code: grpc.status = grpc.status.UNAVAILABLE): this {
    this.flapping = { code, calls: 0 };
    return this;
  }

  async start(): Promise<void> {
    const server = new grpc.Server();
    server.addService(loadUserService().service, {
      GetUserQuotas: this.handler(this.quotaLookups, ({ userId }: { userId: string }) => this.quotas.get(userId) ?? { storageBytes: 0, dailyUploads: 0 }),
      UpdateStorageUsage: this.handler(this.deltas, (delta: Delta) => this.apply(delta)),
    });
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${this.port}`, grpc.ServerCredentials.createInsecure(), (error, port) =>
        error ? reject(error) : resolve(port),
      ),
    );
    this.server = server;
  }

  /** Drops the listener and every connection at once, like a crashed peer ("down"). */
  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.server?.forceShutdown();
    this.server = undefined;
  }

  async close(): Promise<void> {
    await this.stop();
  }

  /** Adds a delta to its user's total unless its delta_id was applied before; answers the total either way. */
  private apply(delta: Delta): { applied: boolean; usedBytes: number } {
    const total = this.usage.get(delta.userId) ?? { bytes: 0, files: 0 };
    const fresh = !this.applied.has(delta.deltaId);
    if (fresh) {
      this.applied.add(delta.deltaId);
      this.usage.set(delta.userId, { bytes: total.bytes + delta.deltaBytes, files: total.files + delta.deltaFiles });
    }
    return { applied: fresh, usedBytes: this.usage.get(delta.userId)?.bytes ?? 0 };
  }

  /** The failure this call gets, if any: a standing one, else every other call while flapping. */
  private nextFailure(): grpc.status | undefined {
    if (this.failure && this.failure.times > 0) {
      this.failure.times--;
      return this.failure.code;
    }
    if (this.flapping && this.flapping.calls++ % 2 === 0) return this.flapping.code;
    return undefined;
  }

  private nextDelay(): number {
    if (!this.slow || this.slow.times <= 0) return 0;
    this.slow.times--;
    return this.slow.ms;
  }

  /**
   * `respond` runs when the call arrives, even if the answer is then delayed past the
   * client's deadline (the work is done, the answer is lost); it returns the response, or
   * `{ code, details }` to answer with an error status.
   */
  private handler<Req>(log: Req[], respond: (request: Req) => object): grpc.handleUnaryCall<Req, object> {
    return (call, callback) => {
      log.push(call.request);
      this.requestIds.push(String(call.metadata.get('x-request-id')[0] ?? ''));
      const code = this.nextFailure();
      const answer = code === undefined ? respond(call.request) : { code, details: 'stand-in failure' };
      const reply = (): void => ('code' in answer ? callback(answer as Partial<grpc.StatusObject>) : callback(null, answer));
      const delayMs = this.nextDelay();
      if (delayMs === 0) return reply();
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        reply();
      }, delayMs);
      this.timers.add(timer);
      call.on('cancelled', () => {
        this.cancelled++;
        clearTimeout(timer);
        this.timers.delete(timer);
      });
    };
  }
}
