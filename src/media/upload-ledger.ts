import { MediaError } from '../errors.js';
import type { UsageRepository } from '../db/usage.repository.js';

/** Claim arrived bytes in steps of this much, so a large upload costs few ledger round trips. */
const CLAIM_STEP = 8 * 1024 * 1024;
/** ... or at least this often, which keeps a slow upload's reservation fresh for the sweeper. */
const CLAIM_EVERY_MS = 60_000;

export interface LedgerLimits {
  quotaBytes: number;
  dailyUploads: number;
}

/**
 * One upload's hold on its owner's daily count and storage quota, in three steps:
 * `reserve` takes a daily slot before any body byte is read; `track` claims the bytes as
 * they arrive; `release` gives everything back unless the commit consumed the reservation
 * (the commit makes the exact, final quota check in its own transaction).
 *
 * Claims (every 8 MiB, or every minute of a slow upload) run in the background, one at a
 * time, so the transfer never waits for the ledger; a refusal fails the upload at its next
 * chunk. Each claim takes the owner's usage
 * row lock, so parallel uploads never overshoot the quota, and nothing is reserved ahead
 * of arrival, so one upload never blocks another with bytes it does not have.
 */
export class UploadLedger {
  private reservation?: string;
  private claimed = 0;
  private claimedAt = 0;
  private pending?: Promise<void>;
  private refusal?: unknown;

  constructor(
    private readonly usage: UsageRepository,
    private readonly ownerId: string,
    private readonly limits: LedgerLimits,
    private readonly processTag: string,
  ) {}

  /** The ledger of a reservation taken earlier (a resumable upload's, at its creation). */
  static holding(usage: UsageRepository, ownerId: string, limits: LedgerLimits, reservationId: string): UploadLedger {
    const ledger = new UploadLedger(usage, ownerId, limits, 'resumable');
    ledger.reservation = reservationId;
    return ledger;
  }

  /** The reservation the commit consumes; set by `reserve`. */
  get reservationId(): string {
    if (!this.reservation) throw new Error('UploadLedger: reserve() first');
    return this.reservation;
  }

  /** Takes one of today's upload slots; refuses when none is left, or when `minBytes` cannot fit in the quota. */
  async reserve(minBytes: number): Promise<void> {
    const { ownerId, processTag, limits } = this;
    const outcome = await this.usage.reserve({
      ownerId,
      dailyLimit: limits.dailyUploads,
      quotaBytes: limits.quotaBytes,
      minBytes,
      processTag,
    });
    if (outcome.ok) {
      this.reservation = outcome.reservationId;
      // The declared length was checked against the quota with the reservation: a small
      // upload makes no claim while it streams, and the commit's exact check is its only one.
      this.claimed = 0;
      this.claimedAt = Date.now();
    } else if (outcome.reason === 'daily')
      throw new MediaError('DAILY_UPLOAD_LIMIT', undefined, { retryAfter: secondsUntilUtcMidnight() });
    else throw new MediaError('QUOTA_EXCEEDED');
  }

  /** Told the running total as bytes arrive; throws a refusal learnt from an earlier claim. */
  track(total: number): void {
    if (this.refusal) throw this.refusal;
    if (this.pending) return; // the claim after it will catch up
    if (total - this.claimed < CLAIM_STEP && Date.now() - this.claimedAt < CLAIM_EVERY_MS) return;
    this.pending = this.claim(total)
      .catch((error: unknown) => void (this.refusal = error))
      .finally(() => (this.pending = undefined));
  }

  /** Gives the reservation back; call it only when the commit did not consume it. */
  async release(): Promise<void> {
    await this.pending;
    if (this.reservation) await this.usage.release(this.reservation);
  }

  private async claim(bytes: number): Promise<void> {
    const { ok } = await this.usage.resize(this.reservationId, this.ownerId, bytes, this.limits.quotaBytes);
    if (!ok) throw new MediaError('QUOTA_EXCEEDED');
    this.claimed = Math.max(this.claimed, bytes);
    this.claimedAt = Date.now();
  }
}

export function secondsUntilUtcMidnight(now = new Date()): number {
  const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  return Math.max(1, Math.ceil((midnight - now.getTime()) / 1000));
}
