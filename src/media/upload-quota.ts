import { MediaError } from '../errors.js';
import type { UsageRepository } from '../db/usage.repository.js';

/** Claim arrived bytes in steps of this much, so a large upload costs few ledger round trips. */
const CLAIM_STEP = 4 * 1024 * 1024;

/**
 * An upload's hold on the owner's storage quota. It claims the bytes that have arrived
 * (on the first chunk, then every CLAIM_STEP), failing with 507 as soon as they cannot
 * fit beside what is stored and what other uploads of the user hold; `settle` claims the
 * exact final size under the same lock right before the commit, so the quota is never
 * overshot. Nothing is reserved ahead of arrival, so one upload never blocks another
 * with bytes it does not have.
 */
export class UploadQuota {
  private claimed = -1;

  constructor(
    private readonly usage: UsageRepository,
    private readonly reservationId: string,
    private readonly ownerId: string,
    private readonly quota: number,
  ) {}

  async cover(bytes: number): Promise<void> {
    if (this.claimed >= 0 && bytes - this.claimed < CLAIM_STEP) return;
    await this.settle(bytes);
  }

  async settle(bytes: number): Promise<void> {
    const { ok } = await this.usage.resize(this.reservationId, this.ownerId, bytes, this.quota);
    if (!ok) throw new MediaError('QUOTA_EXCEEDED');
    this.claimed = bytes;
  }
}
