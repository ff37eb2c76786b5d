/**
 * A real user-service stand-in: a @grpc/grpc-js server speaking proto/user.proto on
 * 127.0.0.1. It keeps a stored total per user and applies each delta_id once (the contract
 * our outbox relies on: a change may be sent again after a lost answer). A test sets its
 * behaviour at any time (up, slow, failing, flapping), reads what it received (with the
 * x-request-id metadata), and can stop() and start() it again on the same port.
 */
import { GrpcStandIn } from './grpc-stand-in';
import { loadUserService } from '../../src/peers/user.client';

interface Delta {
  userId: string;
  deltaId: string;
  deltaBytes: number;
  deltaFiles: number;
}

export class UserServer extends GrpcStandIn {
  readonly quotaLookups: { userId: string }[] = [];
  /** UpdateStorageUsage requests as received, redeliveries included. */
  readonly deltas: Delta[] = [];
  /** Each user's plan; a user not here gets zeros ("use your default"). */
  readonly quotas = new Map<string, { storageBytes: number; dailyUploads: number }>();
  /** Each user's stored total, as the applied deltas made it. */
  readonly usage = new Map<string, { bytes: number; files: number }>();
  /** The delta_ids applied so far. */
  readonly applied = new Set<string>();

  static async start(): Promise<UserServer> {
    const stub = new UserServer();
    await stub.start();
    return stub;
  }

  get requestCount(): number {
    return this.quotaLookups.length + this.deltas.length;
  }

  protected service() {
    return {
      definition: loadUserService().service,
      implementation: {
        GetUserQuotas: this.handler(
          this.quotaLookups,
          ({ userId }: { userId: string }) => this.quotas.get(userId) ?? { storageBytes: 0, dailyUploads: 0 },
        ),
        UpdateStorageUsage: this.handler(this.deltas, (delta: Delta) => this.apply(delta)),
      },
    };
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
}
