/**
 * The moderation-service client (proto/moderation.proto; docs/architecture.md, "moderation"
 * and "peers"), a thin file over GrpcPeer (deadline, retries, one circuit breaker). Whatever
 * stops us from getting a decision throws ModerationUnavailableError — never an approval:
 * the caller applies MODERATION_FAILURE_MODE.
 */
import type * as grpc from '@grpc/grpc-js';
import type { MediaType } from '../detection/media-types.js';
import { ERRORS } from '../errors.js';
import {
  type BreakerState,
  findProto,
  GrpcPeer,
  loadService,
  PeerCallError,
  type PeerCallOptions,
  type PeerClientOptions,
  PeerUnavailableError,
} from './grpc-peer.js';

export type { BreakerState } from './grpc-peer.js';
/** proto/moderation.proto's media_type: our media type names as they are. */
export type MediaKind = MediaType;
export type HashAlgorithm = 'sha256' | 'md5' | 'phash';

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

export type ModerationClientOptions = PeerClientOptions;
export type CallOptions = PeerCallOptions;

const ALGORITHMS = new Set<string>(['sha256', 'md5', 'phash']);

/** 503 DEPENDENCY_UNAVAILABLE with Retry-After: no decision could be obtained. */
export class ModerationUnavailableError extends PeerUnavailableError {
  constructor(retryAfterSeconds: number, cause: unknown) {
    super({ peer: 'moderation', retryAfterSeconds, cause, message: ERRORS.DEPENDENCY_UNAVAILABLE.message });
    this.name = 'ModerationUnavailableError';
  }
}

/** proto/moderation.proto, found from `from` (src/peers under jest, dist/src/peers in the build). */
export function resolveProtoPath(from: string = __dirname): string {
  return findProto('moderation', from);
}

/** The generated ModerationService constructor (also used by the test stand-in server). */
export function loadModerationService(): grpc.ServiceClientConstructor {
  return loadService('moderation', 'moderation.ModerationService');
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

export class ModerationClient {
  private readonly peer: GrpcPeer<Methods>;

  constructor(options: ModerationClientOptions) {
    this.peer = new GrpcPeer<Methods>({ ...options, name: 'moderation', service: 'moderation.ModerationService' });
  }

  async checkMediaContent(request: CheckMediaContentRequest, options: CallOptions = {}): Promise<ModerationDecision> {
    const call = { ...options, requestId: options.requestId ?? request.requestId, read: toDecision };
    return this.decided(this.peer.call('CheckMediaContent', request, call));
  }

  /** One hash in moderation-service's own list (POST /media/hash-check). */
  async getContentHash(request: ContentHashRequest, options: CallOptions = {}): Promise<ContentHashLookup> {
    const { known, blocked, reason } = await this.decided(this.peer.call('GetContentHash', request, options));
    return { known, blocked, reason };
  }

  get breakerState(): BreakerState {
    return this.peer.breakerState;
  }

  close(): void {
    this.peer.close();
  }

  /**
   * A caller's abort passes through. Everything else is "no decision", including the peer's
   * definite refusals (INVALID_ARGUMENT, PERMISSION_DENIED from the mesh): they are not
   * retried but still leave us without a decision, so they are unavailable too.
   */
  private async decided<T>(call: Promise<T>): Promise<T> {
    try {
      return await call;
    } catch (error) {
      if (error instanceof PeerUnavailableError)
        throw new ModerationUnavailableError(error.retryAfterSeconds, error.cause);
      if (error instanceof PeerCallError) throw new ModerationUnavailableError(this.peer.retryAfterSeconds, error);
      throw error;
    }
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
