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
 * The reservation (one daily slot) is requested when the upload starts and awaited by the
 * first claim, so its round trip overlaps the start of the body. Claims cover the bytes
 * that have arrived (first chunk, then every CLAIM_STEP), failing with 507 as soon as
 * they cannot fit beside what is stored and what other uploads of the user hold; `settle`
 * claims the exact final size right before the commit, under the same lock, so the quota
 * is never overshot. Nothing is reserved ahead of arrival, so one upload never blocks
 * another with bytes it does not have. Step claims after the first run beside the stream
 * (one at a time): a refusal fails the upload at the next chunk.
 */
export class UploadQuota {
  private readonly reservation: Promise<string>;
  private claimed = -1;
  private claimedAt = 0;
  private pending?: Promise<void>;

  constructor(
    private readonly usage: UsageRepository,
    private readonly ownerId: string,
    private readonly limits: QuotaLimits,
  ) {
    this.reservation = usage.reserve(ownerId, limits.dailyUploads).then((outcome) => {
      if (!outcome.ok) throw new MediaError('DAILY_UPLOAD_LIMIT', undefined, { retryAfter: secondsUntilUtcMidnight() });
      return outcome.reservationId;
    });
    this.reservation.catch(() => {}); // surfaced by the first claim
  }

  /** The reservation's id, once granted (rejects with DAILY_UPLOAD_LIMIT). */
  reservationId(): Promise<string> {
    return this.reservation;
  }

  async cover(bytes: number): Promise<void> {
    if (this.pending) await this.pending; // rethrows a refused claim
    if (this.claimed >= 0 && bytes - this.claimed < CLAIM_STEP && Date.now() - this.claimedAt < CLAIM_EVERY_MS) return;
    if (this.claimed < 0) return this.claim(bytes); // awaited: an over-quota user is refused at once
    this.pending = this.claim(bytes).finally(() => (this.pending = undefined));
    this.pending.catch(() => {}); // observed by the next cover or settle
  }

  async settle(bytes: number): Promise<void> {
    if (this.pending) await this.pending.catch(() => {});
    await this.claim(bytes);
  }

  /** Gives the reservation back (a no-op once the commit consumed it). */
  async release(): Promise<void> {
    const id = await this.reservation.catch(() => undefined);
    if (id) await this.usage.release(id);
  }

  private async claim(bytes: number): Promise<void> {
    const { ok } = await this.usage.resize(await this.reservation, this.ownerId, bytes, this.limits.quotaBytes);
    if (!ok) throw new MediaError('QUOTA_EXCEEDED');
    this.claimed = bytes;
    this.claimedAt = Date.now();
  }
}

function secondsUntilUtcMidnight(now = new Date()): number {
  const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  return Math.max(1, Math.ceil((midnight - now.getTime()) / 1000));
}
