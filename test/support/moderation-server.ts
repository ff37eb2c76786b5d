/**
 * A real moderation-service stand-in: a @grpc/grpc-js server speaking proto/moderation.proto
 * on 127.0.0.1. A test sets its behaviour at any time (approve, reject, delay, fail), reads
 * what it received, and can stop() and start() it again on the same port to flap.
 */
import * as grpc from '@grpc/grpc-js';
import { loadModerationService } from '../../src/peers/moderation.client';

type Answer = { decision: string; reason: string; block: { algorithm: string; hash: string }[] };

export class ModerationServer {
  /** CheckMediaContent requests as received (camelCase, as proto-loader decodes them). */
  readonly checks: Record<string, unknown>[] = [];
  readonly lookups: { algorithm: string; hash: string }[] = [];
  /** Calls the client cancelled (abort or deadline) while we were still delaying. */
  cancelled = 0;
  /** GetContentHash answers, keyed `${algorithm}:${hash}`. */
  readonly hashes = new Map<string, { blocked: boolean; reason: string }>();

  private answer: Answer = { decision: 'APPROVED', reason: '', block: [] };
  private failure?: { code: grpc.status; times: number };
  private delayMs = 0;
  private server?: grpc.Server;
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(public port: number) {}

  static async start(): Promise<ModerationServer> {
    const stub = new ModerationServer(0);
    await stub.start();
    return stub;
  }

  get url(): string {
    return `127.0.0.1:${this.port}`;
  }

  get requestCount(): number {
    return this.checks.length + this.lookups.length;
  }

  approve(): this {
    return this.decide('APPROVED');
  }

  reject(reason: string, block: Answer['block'] = []): this {
    return this.decide('REJECTED', reason, block);
  }

  /** Any Decision name, e.g. DECISION_UNSPECIFIED. Clears a standing failure. */
  decide(decision: string, reason = '', block: Answer['block'] = []): this {
    this.answer = { decision, reason, block };
    this.failure = undefined;
    return this;
  }

  /** Wait `ms` before each answer (or failure). */
  delay(ms: number): this {
    this.delayMs = ms;
    return this;
  }

  /** Fail the next `times` calls (all, by default) with `code`, then answer again. */
  fail(code: grpc.status, times = Infinity): this {
    this.failure = { code, times };
    return this;
  }

  async start(): Promise<void> {
    const server = new grpc.Server();
    server.addService(loadModerationService().service, {
      CheckMediaContent: this.handler(this.checks, () => this.answer),
      GetContentHash: this.handler(this.lookups, (req: { algorithm: string; hash: string }) => {
        const entry = this.hashes.get(`${req.algorithm}:${req.hash}`);
        return { known: entry !== undefined, blocked: entry?.blocked ?? false, reason: entry?.reason ?? '' };
      }),
    });
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${this.port}`, grpc.ServerCredentials.createInsecure(), (error, port) =>
        error ? reject(error) : resolve(port),
      ),
    );
    this.server = server;
  }

  /** Drops the listener and every connection at once, like a crashed peer. */
  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.server?.forceShutdown();
    this.server = undefined;
  }

  async close(): Promise<void> {
    await this.stop();
  }

  private handler<Req>(log: Req[], respond: (request: Req) => object): grpc.handleUnaryCall<Req, object> {
    return (call, callback) => {
      log.push(call.request);
      const failure = this.failure && this.failure.times > 0 ? this.failure : undefined;
      if (failure) failure.times--;
      const reply = (): void =>
        failure ? callback({ code: failure.code, details: 'stand-in failure' }) : callback(null, respond(call.request));
      if (this.delayMs === 0) return reply();
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        reply();
      }, this.delayMs);
      this.timers.add(timer);
      call.on('cancelled', () => {
        this.cancelled++;
        clearTimeout(timer);
        this.timers.delete(timer);
      });
    };
  }
}
