/**
 * The user-service client (proto/user.proto; docs/architecture.md, "peers"), a thin file
 * over GrpcPeer. Quotas change rarely and are cached; storage usage is sent by the outbox,
 * which tells a refusal (PeerCallError: give up on that change) from no answer
 * (PeerUnavailableError: send it again later).
 */
import { type ServiceClientConstructor, status } from '@grpc/grpc-js';
import { type BoundedCache, boundedCache } from '../common/cache.js';
import {
  type BreakerState,
  GrpcPeer,
  loadService,
  PeerCallError,
  type PeerCallOptions,
  type PeerClientOptions,
} from './grpc-peer.js';

export interface UserClientOptions extends PeerClientOptions {
  /** How long a user's quotas are reused. Default 3600; 0: never. */
  cacheSeconds?: number;
  /** Most users' quotas remembered (≈ 400 B each, src/common/cache.ts). Default 5,000. */
  cacheEntries?: number;
}

/** A user's limits; undefined: user-service sets none, use our default. */
export interface UserQuotas {
  storageBytes?: number;
  dailyUploads?: number;
}

export interface StorageDelta {
  userId: string;
  /** Idempotency key (a UUID): user-service applies each delta once, so the outbox may resend. */
  deltaId: string;
  /** Bytes added, or removed when negative. */
  deltaBytes: number;
  /** Files added, or removed when negative. */
  deltaFiles: number;
}

export interface StorageUsage {
  /** False when user-service had already applied this deltaId. */
  applied: boolean;
  /** The user's stored total after the call, either way. */
  usedBytes: number;
}

type Methods = {
  GetUserQuotas: [{ userId: string }, { storageBytes: number; dailyUploads: number }];
  UpdateStorageUsage: [StorageDelta, StorageUsage];
};

/** The generated UserService constructor (also used by the test stand-in server). */
export function loadUserService(): ServiceClientConstructor {
  return loadService('user', 'user.UserService');
}

export class UserClient {
  private readonly peer: GrpcPeer<Methods>;
  private readonly quotas: BoundedCache<string, UserQuotas>;

  constructor(options: UserClientOptions) {
    const { cacheSeconds = 3600, cacheEntries = 5000, ...peer } = options;
    this.peer = new GrpcPeer<Methods>({ ...peer, name: 'user', service: 'user.UserService' });
    // ttlOf, not ttl: lru-cache reads a ttl of 0 as "forever", ttlOf's 0 as "not kept".
    this.quotas = boundedCache({ max: cacheEntries, ttlOf: () => cacheSeconds * 1000 });
  }

  /** A user user-service does not know has no quotas of its own (our defaults). Any other refusal is no answer. */
  async getUserQuotas(userId: string, options: PeerCallOptions = {}): Promise<UserQuotas> {
    const known = this.quotas.get(userId);
    if (known) return known;
    let quotas: UserQuotas;
    try {
      const { storageBytes, dailyUploads } = await this.peer.call('GetUserQuotas', { userId }, options);
      quotas = { storageBytes: storageBytes || undefined, dailyUploads: dailyUploads || undefined };
    } catch (error) {
      if (!(error instanceof PeerCallError)) throw error;
      if (error.code !== status.NOT_FOUND) throw this.peer.unavailable(error);
      quotas = {};
    }
    this.quotas.set(userId, quotas);
    return quotas;
  }

  /**
   * Retried on a lost answer like any call: safe because of deltaId. A refusal (e.g.
   * INVALID_ARGUMENT, NOT_FOUND) passes through as PeerCallError for the outbox to judge.
   */
  async updateStorageUsage(delta: StorageDelta, options: PeerCallOptions = {}): Promise<StorageUsage> {
    // Caught here: protobufjs would truncate quietly, or fail the call as if the peer had.
    if (!delta.deltaId || !Number.isSafeInteger(delta.deltaBytes) || (delta.deltaFiles | 0) !== delta.deltaFiles) {
      throw new RangeError('updateStorageUsage: a deltaId, a safe integer of bytes and an int32 of files are required');
    }
    const { userId, deltaId, deltaBytes, deltaFiles } = delta;
    const { applied, usedBytes } = await this.peer.call(
      'UpdateStorageUsage',
      { userId, deltaId, deltaBytes, deltaFiles },
      options,
    );
    return { applied, usedBytes };
  }

  get breakerState(): BreakerState {
    return this.peer.breakerState;
  }

  close(): void {
    this.peer.close();
  }
}
