/**
 * One service outside this repository, called over gRPC (docs/architecture.md, "peers"): the
 * generic half of every peer client. Each attempt carries a gRPC deadline; transient failures
 * are retried with exponential backoff; the whole retried call runs inside one circuit
 * breaker per peer. Whatever stops us from getting an answer throws PeerUnavailableError;
 * a definite answer of the peer that is not a response (NOT_FOUND, INVALID_ARGUMENT ...)
 * throws PeerCallError for the thin client to interpret. Plain channel: Istio adds mTLS.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { loadSync, type Options as LoaderOptions } from '@grpc/proto-loader';
import {
  circuitBreaker,
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  ExponentialBackoff,
  handleAll,
  type IBackoff,
} from 'cockatiel';
import { protoPath } from '../common/proto-path.js';
import { MediaError } from '../errors.js';
import { observation } from '../observability/observation.js';
import { SpanKind, traceHeaders, traced } from '../observability/tracing.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

/** What a thin client lets its callers tune; the peer's name and service are its own. */
export interface PeerClientOptions {
  /** host:port (e.g. AUTH_GRPC_URL). */
  url: string;
  /** Deadline of each attempt. Default 2000. */
  deadlineMs?: number;
  /** Retries after the first attempt, on UNAVAILABLE / DEADLINE_EXCEEDED / RESOURCE_EXHAUSTED. Default 2. */
  retries?: number;
  /** First backoff delay (exponential, decorrelated jitter). Default 100. */
  initialBackoffMs?: number;
  /** Longest backoff delay. Default 2000. */
  maxBackoffMs?: number;
  /** Consecutive failed calls that open the breaker. Default 5. */
  breakerThreshold?: number;
  /** How long the breaker stays open before letting one trial call through. Default 10000. */
  halfOpenAfterMs?: number;
  /** Extra grpc-js channel options (override the reconnect backoff defaults below). */
  channelOptions?: grpc.ChannelOptions;
  /** Told of every call's outcome and duration (media_peer_request_duration_seconds). */
  observe?: (outcome: PeerOutcome, seconds: number) => void;
}

/** How a call ended: answered, refused by the peer, out of time, or no answer (incl. an open breaker). */
export type PeerOutcome = 'ok' | 'rejected' | 'timeout' | 'error';

export interface GrpcPeerOptions extends PeerClientOptions {
  /** The peer's name: its proto is proto/<name>.proto, and errors name it. */
  name: string;
  /** The fully qualified service, e.g. `auth.AuthService`. */
  service: string;
}

export interface PeerCallOptions {
  signal?: AbortSignal;
  /** Sent as `x-request-id` metadata, for correlating logs across services. */
  requestId?: string;
}

/** A method's [request, response], as proto-loader encodes and decodes them (camelCase). */
export type PeerMethods<M> = { [K in keyof M]: [object, object] };

/** Retry-After when the breaker is closed (the peer just failed) — a small guess. */
const DEFAULT_RETRY_AFTER_SECONDS = 5;
const TRANSIENT = new Set([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.RESOURCE_EXHAUSTED]);
/**
 * The peer looked at the request and said no: an answer, not an outage. Not retried, and
 * not counted by the breaker (a caller sending unknown ids must not cut everyone off).
 * UNIMPLEMENTED, INTERNAL, UNKNOWN, DATA_LOSS and the like are no answer: unavailable.
 */
const ANSWERS = new Set([
  grpc.status.INVALID_ARGUMENT,
  grpc.status.NOT_FOUND,
  grpc.status.ALREADY_EXISTS,
  grpc.status.PERMISSION_DENIED,
  grpc.status.UNAUTHENTICATED,
  grpc.status.FAILED_PRECONDITION,
  grpc.status.OUT_OF_RANGE,
]);
/** grpc-js throws on metadata values outside printable ASCII. */
const METADATA_VALUE = /^[ -~]{1,256}$/;

/** 503 DEPENDENCY_UNAVAILABLE with Retry-After: no answer could be obtained from `peer`. */
export class PeerUnavailableError extends MediaError {
  readonly peer: string;
  readonly retryAfterSeconds: number;

  constructor(options: { peer: string; retryAfterSeconds: number; cause?: unknown; message?: string }) {
    const message = options.message ?? `The ${options.peer} service is unavailable; try again later`;
    super('DEPENDENCY_UNAVAILABLE', message, { retryAfter: options.retryAfterSeconds, cause: options.cause });
    this.name = 'PeerUnavailableError';
    this.peer = options.peer;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** The peer's definite "no" (see ANSWERS), with its gRPC status for the thin client to read. */
export class PeerCallError extends Error {
  readonly code: grpc.status;
  readonly details: string;

  constructor(
    readonly peer: string,
    readonly method: string,
    cause: grpc.ServiceError,
  ) {
    super(`${peer} ${method}: ${grpc.status[cause.code]} ${cause.details}`, { cause });
    this.name = 'PeerCallError';
    this.code = cause.code;
    this.details = cause.details;
  }
}

/** proto/<name>.proto (src/common/proto-path.ts), under the name the peers' code and tests use. */
export const findProto = protoPath;

/** camelCase fields, enums as names, 64-bit integers as numbers (sizes, times and counts stay far below 2^53). */
const LOADER_OPTIONS: LoaderOptions = { keepCase: false, longs: Number, enums: String, defaults: true, arrays: true };

/** The generated constructor of `service` in proto/<name>.proto (also what a test stand-in serves). */
export function loadService(name: string, service: string): grpc.ServiceClientConstructor {
  const loaded = grpc.loadPackageDefinition(loadSync(findProto(name), LOADER_OPTIONS));
  const found = service
    .split('.')
    .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], loaded);
  if (typeof found !== 'function') throw new Error(`no service ${service} in proto/${name}.proto`);
  return found as grpc.ServiceClientConstructor;
}

type Unary = (
  request: object,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response?: object) => void,
) => grpc.ClientUnaryCall;
type Outcome<T> = { answer: T } | { refused: PeerCallError };

export class GrpcPeer<M extends PeerMethods<M>> {
  readonly name: string;
  private readonly raw: grpc.Client;
  private readonly deadlineMs: number;
  private readonly halfOpenAfterMs: number;
  private readonly retries: number;
  private readonly backoff: ExponentialBackoff<unknown>;
  private readonly breaker: CircuitBreakerPolicy;
  private openedAt = 0;
  private readonly observe?: PeerClientOptions['observe'];

  constructor(options: GrpcPeerOptions) {
    this.name = options.name;
    this.observe = options.observe;
    this.deadlineMs = options.deadlineMs ?? 2000;
    this.halfOpenAfterMs = options.halfOpenAfterMs ?? 10_000;
    // grpc-js waits up to 120 s between reconnects by default; keep it within one breaker
    // period so the trial call after halfOpenAfter meets a channel that has tried again.
    const channelOptions = {
      'grpc.initial_reconnect_backoff_ms': Math.min(1000, this.halfOpenAfterMs),
      'grpc.max_reconnect_backoff_ms': this.halfOpenAfterMs,
      ...options.channelOptions,
    };
    const Service = loadService(options.name, options.service);
    this.raw = new Service(options.url, grpc.credentials.createInsecure(), channelOptions);

    // handleAll: every failed call counts, including a caller's abort, because cockatiel
    // 3.2.1 *closes* a half-open breaker when the trial throws an error it does not handle.
    // A definite answer (PeerCallError) is returned to the breaker, not thrown: the peer
    // answered, so it is a success, and a half-open trial closes it.
    this.breaker = circuitBreaker(handleAll, {
      breaker: new ConsecutiveBreaker(options.breakerThreshold ?? 5),
      halfOpenAfter: this.halfOpenAfterMs,
    });
    this.breaker.onBreak(() => (this.openedAt = Date.now()));
    this.retries = options.retries ?? 2;
    this.backoff = new ExponentialBackoff({
      initialDelay: options.initialBackoffMs ?? 100,
      maxDelay: options.maxBackoffMs ?? 2000,
    });
  }

  /**
   * Calls `method`, retried, inside the breaker: N failed calls open it, not N attempts.
   * `read` turns the response into the result inside the breaker: what it throws is a failure
   * of the peer (an answer we cannot use), not retried. A caller's abort rethrows the
   * signal's reason (the caller gave up, the peer did not fail).
   */
  async call<K extends keyof M & string, T = M[K][1]>(
    method: K,
    request: M[K][0],
    options: PeerCallOptions & { read?: (response: M[K][1]) => T } = {},
  ): Promise<T> {
    const started = performance.now();
    let outcome: PeerOutcome = 'error';
    try {
      const answer = await traced(`${this.name}/${method}`, () => this.callOnce(method, request, options), {
        kind: SpanKind.CLIENT,
        attributes: { 'rpc.system': 'grpc', 'rpc.method': method, 'peer.service': this.name },
      });
      outcome = 'ok';
      return answer;
    } catch (error) {
      if (error instanceof PeerCallError) outcome = 'rejected';
      else if (deadlineExceeded(error)) outcome = 'timeout';
      throw error;
    } finally {
      this.observe?.(outcome, (performance.now() - started) / 1000);
    }
  }

  private async callOnce<K extends keyof M & string, T = M[K][1]>(
    method: K,
    request: M[K][0],
    options: PeerCallOptions & { read?: (response: M[K][1]) => T },
  ): Promise<T> {
    const { signal, read = (response: M[K][1]) => response as unknown as T } = options;
    signal?.throwIfAborted();
    const until = signal ?? new AbortController().signal;
    let outcome: Outcome<T>;
    try {
      outcome = await this.breaker.execute(async (): Promise<Outcome<T>> => {
        const attempt = () => this.unary(method, request, until, options.requestId);
        const response = await this.retried(attempt, until).catch((error: grpc.ServiceError) => {
          if (ANSWERS.has(error.code)) return new PeerCallError(this.name, method, error);
          throw error;
        });
        return response instanceof PeerCallError ? { refused: response } : { answer: read(response as M[K][1]) };
      }, signal);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw this.unavailable(error);
    }
    if ('refused' in outcome) throw outcome.refused;
    return outcome.answer;
  }

  /** For a thin client that reads an answer as "no answer" too (e.g. a PeerCallError it cannot use). */
  unavailable(cause: unknown): PeerUnavailableError {
    return new PeerUnavailableError({ peer: this.name, retryAfterSeconds: this.retryAfterSeconds, cause });
  }

  /** cockatiel only leaves Open when a call arrives; report the lazy transition as due. */
  get breakerState(): BreakerState {
    if (this.breaker.state === CircuitState.Closed) return 'closed';
    if (this.breaker.state === CircuitState.HalfOpen) return 'half-open';
    return this.msUntilHalfOpen() > 0 ? 'open' : 'half-open';
  }

  /** Until the breaker lets a trial through when it is open; a small guess otherwise. */
  get retryAfterSeconds(): number {
    if (this.breaker.state !== CircuitState.Open) return DEFAULT_RETRY_AFTER_SECONDS;
    return Math.max(1, Math.ceil(this.msUntilHalfOpen() / 1000));
  }

  close(): void {
    this.raw.close();
  }

  /**
   * Attempts until one answers, a failure is not transient, the retries run out or the
   * caller aborts — the backoff sleep included (cockatiel 3.2.1's retry would sleep it out).
   */
  private async retried(attempt: () => Promise<object>, signal: AbortSignal): Promise<object> {
    let backoff: IBackoff<unknown> | undefined;
    for (let retry = 0; ; retry++) {
      try {
        return await attempt();
      } catch (error) {
        if (
          retry >= this.retries ||
          signal.aborted ||
          !TRANSIENT.has((error as Partial<grpc.ServiceError>).code as grpc.status)
        )
          throw error;
        backoff = backoff ? backoff.next(undefined) : this.backoff.next();
        await sleep(backoff.duration, undefined, { signal });
      }
    }
  }

  private msUntilHalfOpen(): number {
    return this.openedAt + this.halfOpenAfterMs - Date.now();
  }

  /** One attempt: its own deadline, cancelled on the wire when `signal` aborts. */
  private unary(method: string, request: object, signal: AbortSignal, requestId?: string): Promise<object> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const metadata = new grpc.Metadata();
      // The id is only for logs: one grpc-js would refuse is dropped rather than fail the call.
      const id = requestId ?? observation()?.requestId;
      if (id && METADATA_VALUE.test(id)) metadata.set('x-request-id', id);
      for (const [name, value] of Object.entries(traceHeaders())) metadata.set(name, value);
      const cancel = (): void => call.cancel();
      const fn = (this.raw as unknown as Record<string, Unary>)[method];
      const call = fn.call(
        this.raw,
        request,
        metadata,
        { deadline: Date.now() + this.deadlineMs },
        (error, response) => {
          signal.removeEventListener('abort', cancel);
          if (error) reject(error);
          else resolve(response as object);
        },
      );
      signal.addEventListener('abort', cancel, { once: true });
    });
  }
}

/** Whether `error` (or the peer error it wraps) is a gRPC deadline. */
function deadlineExceeded(error: unknown): boolean {
  for (let at: unknown = error; at; at = (at as { cause?: unknown }).cause) {
    if ((at as Partial<grpc.ServiceError>).code === grpc.status.DEADLINE_EXCEEDED) return true;
  }
  return false;
}
