import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { UsageOutboxRepository } from '../db/usage-outbox.repository.js';
import { PeerUnavailableError } from '../peers/grpc-peer.js';
import { UserPeer } from '../peers/user-peer.js';

/** How often workers look at the outbox. */
export const DELIVERY_EVERY_MS = 1000;
const BATCH = 50;
/** A claimed delta is another worker's again after this long (a worker that died holding it). */
const LEASE_SECONDS = 60;
/** Retry delays grow from 1 s to this. */
const MAX_BACKOFF_SECONDS = 60;
/** Without USER_GRPC_URL the outbox is only pruned, keeping the last hour. */
const KEEP_UNDELIVERED_MS = 3600_000;

/**
 * Delivers the usage outbox to user-service (`UpdateStorageUsage`), on workers: each delta
 * with its id as the idempotency key, oldest first, removed once acknowledged and retried
 * with backoff until it is — a user-service down for an hour loses nothing, and a
 * redelivered delta is not counted twice.
 */
@Injectable()
export class UsageReports implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(UsageReports.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;
  private readonly stopping = new AbortController();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly outbox: UsageOutboxRepository,
    private readonly users: UserPeer,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.role === 'api') return;
    const tick = () =>
      void this.deliver().catch((error: unknown) =>
        this.logger.warn(`usage delivery failed: ${(error as Error).message}`),
      );
    this.timer = setInterval(tick, DELIVERY_EVERY_MS).unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    this.stopping.abort();
    await this.running?.catch(() => {});
  }

  /** One round: delivers what is due; returns how many deltas were acknowledged. One round at a time per process. */
  deliver(): Promise<number> {
    this.running ??= this.round().finally(() => (this.running = undefined));
    return this.running;
  }

  private async round(): Promise<number> {
    const client = this.users.client;
    if (!client) {
      await this.outbox.discardOlderThan(new Date(Date.now() - KEEP_UNDELIVERED_MS));
      return 0;
    }
    let delivered = 0;
    for (
      let batch = await this.outbox.claim(BATCH, LEASE_SECONDS);
      batch.length > 0;
      batch = await this.outbox.claim(BATCH, LEASE_SECONDS)
    ) {
      for (const [index, delta] of batch.entries()) {
        try {
          await client.updateStorageUsage(
            { userId: delta.ownerId, deltaId: delta.id, deltaBytes: delta.deltaBytes, deltaFiles: delta.deltaFiles },
            { signal: this.stopping.signal },
          );
          await this.outbox.acknowledge(delta.id);
          delivered++;
        } catch (error) {
          const backoff = Math.min(MAX_BACKOFF_SECONDS, 2 ** Math.min(delta.attempts - 1, 6));
          if (!(error instanceof PeerUnavailableError))
            this.logger.warn({ err: error, deltaId: delta.id }, 'user-service refused a usage delta; retrying later');
          // The rest of the batch waits too: user-service is down, or refusing; the lease would bring them back anyway.
          for (const pending of batch.slice(index)) await this.outbox.postpone(pending.id, backoff);
          return delivered;
        }
      }
    }
    return delivered;
  }
}
