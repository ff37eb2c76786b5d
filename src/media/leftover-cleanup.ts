import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';

const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 30_000;

/**
 * Gives back what a failed upload or job still holds (its quota reservation, blobs written to
 * the store) when the database or the store is down at that moment: the first try is awaited,
 * a failed one is retried in the background with backoff (1 s doubling to 30 s) until it
 * succeeds, so usage and the bucket are right again within seconds of the dependency's
 * return instead of at the sweeper's next pass. The actions are idempotent (releasing a
 * released reservation, deleting a deleted blob). What a stopped or killed process still had
 * to give back is the sweeper's (stale reservations, blobs without rows).
 */
@Injectable()
export class LeftoverCleanup implements OnModuleDestroy {
  private readonly logger = new Logger(LeftoverCleanup.name);
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  /** Runs `action` now; if it fails, again later until it succeeds. Never rejects. */
  async run(what: string, action: () => Promise<unknown>): Promise<void> {
    try {
      await action();
    } catch (error) {
      this.logger.warn({ err: error }, `could not give back ${what}: retrying in the background`);
      this.later(what, action, FIRST_RETRY_MS);
    }
  }

  onModuleDestroy(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private later(what: string, action: () => Promise<unknown>, delayMs: number): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      action().then(
        () => this.logger.log(`gave back ${what}`),
        () => this.later(what, action, Math.min(delayMs * 2, MAX_RETRY_MS)),
      );
    }, delayMs).unref();
    this.timers.add(timer);
  }
}
