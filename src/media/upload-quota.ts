import { MediaError } from '../errors.js';
import type { UsageRepository } from '../db/usage.repository.js';

/** Claim arrived bytes in steps of this much, so a large upload costs few ledger round trips. */
const CLAIM_STEP = 8 * 1024 * 1024;

/**
 * An upload's hold on the owner's storage quota. It claims the bytes that have arrived
 * (on the first chunk, then every CLAIM_STEP), failing with 507 as soon as they cannot
 * fit beside what is stored and what other uploads of the user hold; `settle` claims the
 * exact final size under the same lock right before the commit, so the quota is never
 * overshot. Nothing is reserved ahead of arrival, so one upload never blocks another
 * with bytes it does not have. Step claims run beside the stream (one at a time): a
 * refusal fails the upload at the next chunk, without each step stalling the transfer.
 */
export class UploadQuota {
  private claimed = -1;
  private pending?: Promise<void>;

  constructor(
    private readonly usage: UsageRepository,
    private readonly reservationId: string,
    private readonly ownerId: string,
    private readonly quota: number,
  ) {}

  async cover(bytes: number): Promise<void> {
    if (this.pending) await this.pending; // rethrows a refused claim
    if (this.claimed >= 0 && bytes - this.claimed < CLAIM_STEP) return;
    if (this.claimed < 0) return this.claim(bytes); // the first claim is awaited: an over-quota user is refused at once
    this.pending = this.claim(bytes).finally(() => (this.pending = undefined));
    this.pending.catch(() => {}); // observed by the next cover or settle
  }

  async settle(bytes: number): Promise<void> {
    if (this.pending) await this.pending.catch(() => {});
    await this.claim(bytes);
  }

  private async claim(bytes: number): Promise<void> {
    const { ok } = await this.usage.resize(this.reservationId, this.ownerId, bytes, this.quota);
    if (!ok) throw new MediaError('QUOTA_EXCEEDED');
    this.claimed = bytes;
  }
}
