/**
 * The moderation-service client (proto/moderation.proto; docs/architecture.md, "moderation" and "peers").
 * Each attempt carries a gRPC deadline; transient failures are retried with exponential
 * backoff; the whole retried call runs inside one circuit breaker per peer. Whatever stops
 * us from getting a decision throws ModerationUnavailableError — never an approval: the
 * caller applies MODERATION_FAILURE_MODE. Plain channel: Istio adds mTLS.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync, type Options as LoaderOptions } from '@grpc/proto-loader';
import {
  circuitBreaker,
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  ExponentialBackoff,
  handleAll,
  handleWhen,
  type IPolicy,
  retry,
  wrap,
} from 'cockatiel';
import type { MediaType } from '../detection/media-types.js';
import { MediaError } from '../errors.js';

/** proto/moderation.proto's media_type: our media type names as they are. */
export type MediaKind = MediaType;
export type HashAlgorithm = 'sha256' | 'md5' | 'phash';
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface CheckMediaContentRequest {
  mediaId?: string;
  ownerId: string;
  mediaType: MediaKind;
  mimeType: string;
  originalSize: number;
  storedSize?: number;
  sha256: string;
  md5: string;
  storedSha256?: string;
  storedMd5?: string;
  phashes?: string[];
  requestId?: string;
}

export interface BlockedHash {
  algorithm: HashAlgorithm;
  hash: string;
}

export interface ModerationDecision {
  decision: 'approved' | 'rejected';
  reason: string;
  /** Hashes moderation-service wants on our blocklist (unknown algorithms dropped). */
  block: BlockedHash[];
}

export interface ContentHashRequest {
  algorithm: HashAlgorithm;
  /** Lowercase hex. */
  hash: string;
}

export interface ContentHashLookup {
  known: boolean;
  blocked: boolean;
  reason: string;
}

export interface ModerationClientOptions {
  /** host:port (MODERATION_GRPC_URL). */
  url: string;
  /** Deadline of each attempt. Default 2000. */
  deadlineMs?: number;
  /** Retries after the first attempt, on UNAVAILABLE / DEADLINE_EXCEEDED / RESOURCE_EXHAUSTED. Default 2. */
  retries?: number;
  /** First backoff delay (exponential, decorrelated jitter). Default 100. */
  initialBackoffMs?: number;
  /** Consecutive failed calls that open the breaker. Default 5. */
  breakerThreshold?: number;
  /** How long the breaker stays open before letting one trial call through. Default 10000. */
  halfOpenAfterMs?: number;
  /** Extra grpc-js channel options (override the reconnect backoff defaults below). */
  channelOptions?: grpc.ChannelOptions;
}

export interface CallOptions {
  signal?: AbortSignal;
}

/** Retry-After when the breaker is closed (the peer just failed) — a small guess. */
const DEFAULT_RETRY_AFTER_SECONDS = 5;
const TRANSIENT = new Set([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.RESOURCE_EXHAUSTED]);
const ALGORITHMS = new Set<string>(['sha256', 'md5', 'phash']);

/** 503 DEPENDENCY_UNAVAILABLE with Retry-After: no decision could be obtained. */
export class ModerationUnavailableError extends MediaError {
  constructor(
    readonly retryAfterSeconds: number,
    cause: unknown,
  ) {
    super('DEPENDENCY_UNAVAILABLE', undefined, { retryAfter: retryAfterSeconds, cause });
    this.name = 'ModerationUnavailableError';
  }
}

/**
 * Finds proto/moderation.proto by walking up from `from`: the same code runs from src/peers
 * (jest) and dist/src/peers (the build, which does not copy proto/).
 */
export function resolveProtoPath(from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'proto', 'moderation.proto');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error(`proto/moderation.proto not found above ${from}`);
  }
}

/** camelCase fields, enums as names, uint64 as number (sizes stay far below 2^53). */
const LOADER_OPTIONS: LoaderOptions = { keepCase: false, longs: Number, enums: String, defaults: true, arrays: true };

/** The generated ModerationService constructor (also used by the test stand-in server). */
export function loadModerationService(): grpc.ServiceClientConstructor {
  const definition = loadSync(resolveProtoPath(), LOADER_OPTIONS);
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    moderation: { ModerationService: grpc.ServiceClientConstructor };
  };
  return loaded.moderation.ModerationService;
}

interface WireCheckResponse {
  decision: string;
  reason: string;
  block: { algorithm: string; hash: string }[];
}
type Methods = {
  CheckMediaContent: [CheckMediaContentRequest, WireCheckResponse];
  GetContentHash: [ContentHashRequest, ContentHashLookup];
};
type Unary<Req, Res> = (
  request: Req,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response?: Res) => void,
) => grpc.ClientUnaryCall;
type RawClient = grpc.Client & { [K in keyof Methods]: Unary<Methods[K][0], Methods[K][1]> };

export class ModerationClient {
  private readonly raw: RawClient;
  private readonly deadlineMs: number;
  private readonly halfOpenAfterMs: number;
  private readonly breaker: CircuitBreakerPolicy;
  private readonly policy: IPolicy;
  private openedAt = 0;

  constructor(options: ModerationClientOptions) {
    this.deadlineMs = options.deadlineMs ?? 2000;
    this.halfOpenAfterMs = options.halfOpenAfterMs ?? 10_000;
    // grpc-js waits up to 120 s between reconnects by default; keep it within one breaker
    // period so the trial call after halfOpenAfter meets a channel that has tried again.
    const channelOptions = {
      'grpc.initial_reconnect_backoff_ms': Math.min(1000, this.halfOpenAfterMs),
      'grpc.max_reconnect_backoff_ms': this.halfOpenAfterMs,
      ...options.channelOptions,
    };
    const Service = loadModerationService();
    this.raw = new Service(options.url, grpc.credentials.createInsecure(), channelOptions) as unknown as RawClient;

    // handleAll: every failed call counts, including a caller's abort, because cockatiel
    // 3.2.1 *closes* a half-open breaker when the trial throws an error it does not handle.
    this.breaker = circuitBreaker(handleAll, {
      breaker: new ConsecutiveBreaker(options.breakerThreshold ?? 5),
      halfOpenAfter: this.halfOpenAfterMs,
    });
    this.breaker.onBreak(() => (this.openedAt = Date.now()));
    const retries = retry(
      handleWhen((error) => TRANSIENT.has((error as Partial<grpc.ServiceError>).code as grpc.status)),
      // cockatiel's maxAttempts counts retries, not attempts.
      { maxAttempts: options.retries ?? 2, backoff: new ExponentialBackoff({ initialDelay: options.initialBackoffMs ?? 100, maxDelay: 2000 }) },
    );
    this.policy = wrap(this.breaker, retries);
  }

  async checkMediaContent(request: CheckMediaContentRequest, options: CallOptions = {}): Promise<ModerationDecision> {
    return this.run(async (signal) => toDecision(await this.unary('CheckMediaContent', request, signal)), options.signal);
  }

  /** One hash in moderation-service's own list (POST /media/hash-check). */
  async getContentHash(request: ContentHashRequest, options: CallOptions = {}): Promise<ContentHashLookup> {
    const { known, blocked, reason } = await this.run((signal) => this.unary('GetContentHash', request, signal), options.signal);
    return { known, blocked, reason };
  }

  /** cockatiel only leaves Open when a call arrives; report the lazy transition as due. */
  get breakerState(): BreakerState {
    if (this.breaker.state === CircuitState.Closed) return 'closed';
    if (this.breaker.state === CircuitState.HalfOpen) return 'half-open';
    return this.msUntilHalfOpen() > 0 ? 'open' : 'half-open';
  }

  close(): void {
    this.raw.close();
  }

  /**
   * Runs `attempt` under the policy. A caller's abort rethrows the signal's reason (the
   * caller gave up, the peer did not fail). Everything else is "no decision", including
   * permanent peer errors (INVALID_ARGUMENT, PERMISSION_DENIED from the mesh, UNIMPLEMENTED):
   * they are not retried but still leave us without a decision, so they are unavailable too.
   */
  private async run<T>(attempt: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    try {
      return await this.policy.execute(({ signal: inner }) => attempt(inner), signal);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      const open = this.breaker.state === CircuitState.Open;
      throw new ModerationUnavailableError(open ? Math.max(1, Math.ceil(this.msUntilHalfOpen() / 1000)) : DEFAULT_RETRY_AFTER_SECONDS, error);
    }
  }

  private msUntilHalfOpen(): number {
    return this.openedAt + this.halfOpenAfterMs - Date.now();
  }

  /** One attempt: its own deadline, cancelled on the wire when `signal` aborts. */
  private unary<K extends keyof Methods>(method: K, request: Methods[K][0], signal: AbortSignal): Promise<Methods[K][1]> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const cancel = (): void => call.cancel();
      const fn = this.raw[method] as Unary<Methods[K][0], Methods[K][1]>;
      const call = fn.call(this.raw, request, { deadline: Date.now() + this.deadlineMs }, (error, response) => {
        signal.removeEventListener('abort', cancel);
        if (error) reject(error);
        else resolve(response as Methods[K][1]);
      });
      signal.addEventListener('abort', cancel, { once: true });
    });
  }
}

/** DECISION_UNSPECIFIED or a value newer than our proto is no decision: thrown, never approved. */
function toDecision(response: WireCheckResponse): ModerationDecision {
  if (response.decision !== 'APPROVED' && response.decision !== 'REJECTED') {
    throw new Error(`moderation-service gave no decision (${response.decision})`);
  }
  const block = response.block
    .filter((entry) => ALGORITHMS.has(entry.algorithm))
    .map((entry) => ({ algorithm: entry.algorithm as HashAlgorithm, hash: entry.hash.toLowerCase() }));
  return { decision: response.decision === 'APPROVED' ? 'approved' : 'rejected', reason: response.reason, block };
}
