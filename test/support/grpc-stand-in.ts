/**
 * What every gRPC stand-in of a peer shares: a real @grpc/grpc-js server on 127.0.0.1 whose
 * behaviour a test sets at any time (up, slow, failing, flapping), which records the
 * x-request-id of each call, and which can be stopped (a crashed peer: every connection
 * dropped) and started again on the same port. A stand-in names its service and its methods.
 */
import * as grpc from '@grpc/grpc-js';

export abstract class GrpcStandIn {
  /** The x-request-id metadata of every call, '' when absent. */
  readonly requestIds: string[] = [];
  /** The W3C traceparent metadata of every call, '' when absent. */
  readonly traceparents: string[] = [];
  /** Calls the client cancelled (abort or deadline) while we were still delaying. */
  cancelled = 0;

  private failure?: { code: grpc.status; times: number };
  private flapping?: { code: grpc.status; calls: number };
  private slow?: { ms: number; times: number };
  private server?: grpc.Server;
  private readonly timers = new Set<NodeJS.Timeout>();

  protected constructor(public port = 0) {}

  /** The service and the handlers of its methods (made with `handler`). */
  protected abstract service(): {
    definition: grpc.ServiceDefinition;
    implementation: grpc.UntypedServiceImplementation;
  };

  get url(): string {
    return `127.0.0.1:${this.port}`;
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

  /** Answer the next calls again (a standing failure ends; a delay stays). */
  protected clearFailure(): void {
    this.failure = undefined;
  }

  /** Fail every other call with `code`, starting with the next one. */
  flap(code: grpc.status = grpc.status.UNAVAILABLE): this {
    this.flapping = { code, calls: 0 };
    return this;
  }

  async start(): Promise<void> {
    const server = new grpc.Server();
    const { definition, implementation } = this.service();
    server.addService(definition, implementation);
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

  /**
   * A method's handler: the request is logged in `log`; `respond` runs when the call arrives,
   * even if the answer is then delayed past the client's deadline (the work is done, the
   * answer is lost); it returns the response, or `{ code, details }` to answer with an error status.
   */
  protected handler<Req>(log: Req[], respond: (request: Req) => object): grpc.handleUnaryCall<Req, object> {
    return (call, callback) => {
      log.push(call.request);
      this.requestIds.push(String(call.metadata.get('x-request-id')[0] ?? ''));
      this.traceparents.push(String(call.metadata.get('traceparent')[0] ?? ''));
      const code = this.nextFailure();
      const answer = code === undefined ? respond(call.request) : { code, details: 'stand-in failure' };
      const reply = (): void =>
        'code' in answer ? callback(answer as Partial<grpc.StatusObject>) : callback(null, answer);
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
}
