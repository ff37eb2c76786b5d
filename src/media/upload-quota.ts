import { MediaError } from '../errors.js';
import type { UsageRepository } from '../db/usage.repository.js';

/** Claim arrived bytes in steps of this much, so a large upload costs few ledger round trips. */
const CLAIM_STEP = 8 * 1024 * 1024;
/** ... or at least this often, which keeps a slow upload's reservation fresh for the sweeper. */
const CLAIM_EVERY_MS = 60_000;

export interface QuotaLimits {
  quotaBytes: number;
  dailyUploads: number;
}

/**
 * An upload's hold on the owner's daily count and storage quota.
 *
 * The reservation (one daily slot) is requested when the upload starts. Claims cover the
 * bytes that have arrived (first chunk, then every CLAIM_STEP or CLAIM_EVERY_MS); they
 * run in the background, one at a time, so the transfer never waits for the ledger, and
 * a refusal (507, or the daily limit) fails the upload at the next chunk. `settle` claims
 * the exact final size right before the commit and is authoritative; every claim takes
 * the user's usage row lock, so parallel uploads can never overshoot the quota. Nothing
 * is reserved ahead of arrival, so one upload never blocks another with bytes it does
 * not have.
 */
export class UploadQuota {
  private readonly reservation: Promise<string>;
  private claimed = -1;
  private claimedAt = 0;
  private pending?: Promise<void>;
  private refusal?: unknown;
  private consumed = false;

  constructor(
    private readonly usage: UsageRepository,
    private readonly ownerId: string,
    private readonly limits: QuotaLimits,
    processTag: string,
  ) {
    this.reservation = usage.reserve(ownerId, limits.dailyUploads, processTag).then((outcome) => {
      if (!outcome.ok) throw new MediaError('DAILY_UPLOAD_LIMIT', undefined, { retryAfter: secondsUntilUtcMidnight() });
      return outcome.reservationId;
    });
    this.reservation.catch(() => {}); // surfaced through a claim
  }

  /** The reservation's id, once granted (rejects with DAILY_UPLOAD_LIMIT). */
  reservationId(): Promise<string> {
    return this.reservation;
  }

  /** Called as bytes arrive; throws a refusal learnt from an earlier claim. */
  cover(bytes: number): void {
    if (this.refusal) throw this.refusal;
    if (this.pending) return; // the claim after it will catch up
    if (this.claimed >= 0 && bytes - this.claimed < CLAIM_STEP && Date.now() - this.claimedAt < CLAIM_EVERY_MS) return;
    this.pending = this.claim(bytes)
      .catch((error: unknown) => void (this.refusal = error))
      .finally(() => (this.pending = undefined));
  }

  async settle(bytes: number): Promise<void> {
    await this.pending;
    await this.claim(bytes);
  }

  /** The commit deleted the reservation in its transaction: nothing to give back. */
  committed(): void {
    this.consumed = true;
  }

  /** Gives the reservation back, unless the commit consumed it. */
  async release(): Promise<void> {
    await this.pending;
    if (this.consumed) return;
    const id = await this.reservation.catch(() => undefined);
    if (id) await this.usage.release(id);
  }

  private async claim(bytes: number): Promise<void> {
    const { ok } = await this.usage.resize(await this.reservation, this.ownerId, bytes, this.limits.quotaBytes);
    if (!ok) throw new MediaError('QUOTA_EXCEEDED');
    this.claimed = Math.max(this.claimed, bytes);
    this.claimedAt = Date.now();
  }
}

function secondsUntilUtcMidnight(now = new Date()): number {
  const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  return Math.max(1, Math.ceil((midnight - now.getTime()) / 1000));
}
