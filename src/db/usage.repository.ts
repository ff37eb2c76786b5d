import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { PrismaService } from './prisma.service.js';

export interface UsageSnapshot {
  usedBytes: number;
  fileCount: number;
  uploadsToday: number;
  byType: { type: string; count: number; bytes: number }[];
}

/** The process tag of a resumable upload's reservation: `tus:<upload id>`. */
export const RESUMABLE_TAG = 'tus:';

export type ReserveOutcome = { ok: true; reservationId: string } | { ok: false; reason: 'daily' | 'quota' };
export type GrowOutcome = { ok: true } | { ok: false };

export interface ReserveRequest {
  ownerId: string;
  dailyLimit: number;
  quotaBytes: number;
  /** The least the upload will add (from its declared length): refused at once when it cannot fit. */
  minBytes: number;
  processTag: string;
}

/**
 * The quota ledger. An upload holds a reservation row (bytes and one daily slot) while it
 * streams; checks take the owner's usage row FOR UPDATE so concurrent uploads of one user
 * are serialised and can never overshoot, on one instance or many.
 */
@Injectable()
export class UsageRepository {
  constructor(private readonly prisma: PrismaService) {}

  /** Opens a reservation when the user still has a daily upload slot and room for `minBytes` (one round trip: see reserve_upload). */
  async reserve(request: ReserveRequest): Promise<ReserveOutcome> {
    const { ownerId, dailyLimit, quotaBytes, minBytes, processTag } = request;
    const reservationId = randomUUID();
    const [state] = await this.prisma.sql<{ daily_ok: boolean; quota_ok: boolean }>(
      'SELECT daily_ok, quota_ok FROM reserve_upload($1, $2::uuid, $3, $4::int, $5::bigint, $6::bigint)',
      [ownerId, reservationId, processTag, dailyLimit, quotaBytes, minBytes],
    );
    if (!state.daily_ok) return { ok: false, reason: 'daily' };
    if (!state.quota_ok) return { ok: false, reason: 'quota' };
    return { ok: true, reservationId };
  }

  /** Sets the reservation to `bytes` if what is stored plus all reservations stays within `quota`. */
  async resize(reservationId: string, ownerId: string, bytes: number, quota: number): Promise<GrowOutcome> {
    const [, updated] = await this.prisma.$transaction([
      this.lockUsage(ownerId),
      this.prisma.$executeRaw`
        UPDATE quota_reservations SET bytes = ${bytes}::bigint, updated_at = now()
        WHERE id = ${reservationId}::uuid
          AND (SELECT used_bytes FROM usage WHERE owner_id = ${ownerId})
            + (SELECT coalesce(sum(bytes), 0) FROM quota_reservations WHERE owner_id = ${ownerId} AND id <> ${reservationId}::uuid)
            + ${bytes}::bigint <= ${quota}::bigint`,
    ]);
    return { ok: updated === 1 };
  }

  /** Marks the reservation as in use (a resumable upload's PATCH): the sweeper leaves it until it is stale. */
  async touch(reservationId: string): Promise<void> {
    await this.prisma.quotaReservation.updateMany({ where: { id: reservationId }, data: { updatedAt: new Date() } });
  }

  async release(reservationId: string): Promise<void> {
    await this.prisma.quotaReservation.deleteMany({ where: { id: reservationId } });
  }

  /** Removes reservations of processes known to be gone, and any not touched since `before`. */
  /** The process tags quota reservations are held under. */
  async reservationTags(): Promise<string[]> {
    const rows = await this.prisma.quotaReservation.findMany({
      where: { processTag: { not: null } },
      distinct: ['processTag'],
      select: { processTag: true },
    });
    return rows.map((row) => row.processTag!);
  }

  /**
   * A resumable upload's reservation (tag `tus:<upload id>`) lives as long as the upload: it is
   * stale only after `resumableBefore` (its expiry, plus a margin for the expiry sweep).
   */
  async releaseStale(before: Date, deadProcessTags: string[] = [], resumableBefore: Date = before): Promise<number> {
    const { count } = await this.prisma.quotaReservation.deleteMany({
      where: {
        OR: [
          // (NOT LIKE is NULL, not true, for a reservation without a tag: hence the first case.)
          {
            updatedAt: { lt: before },
            OR: [{ processTag: null }, { NOT: { processTag: { startsWith: RESUMABLE_TAG } } }],
          },
          { updatedAt: { lt: resumableBefore }, processTag: { startsWith: RESUMABLE_TAG } },
          { processTag: { in: deadProcessTags } },
        ],
      },
    });
    return count;
  }

  async snapshot(ownerId: string): Promise<UsageSnapshot> {
    const [usage, daily, byType] = await Promise.all([
      this.prisma.usage.findUnique({ where: { ownerId } }),
      this.prisma.$queryRaw<{ count: number }[]>`
        SELECT count FROM daily_uploads WHERE owner_id = ${ownerId} AND day = (now() AT TIME ZONE 'UTC')::date`,
      this.prisma.media.groupBy({ by: ['type'], where: { ownerId }, _count: { _all: true }, _sum: { size: true } }),
    ]);
    return {
      usedBytes: Number(usage?.usedBytes ?? 0),
      fileCount: usage?.fileCount ?? 0,
      uploadsToday: daily[0]?.count ?? 0,
      byType: byType.map((row) => ({ type: row.type, count: row._count._all, bytes: Number(row._sum.size ?? 0) })),
    };
  }

  private lockUsage(ownerId: string) {
    return lockUsageRow(this.prisma, ownerId);
  }
}

/**
 * Creates the owner's usage row if needed and locks it (an upsert that updates locks the
 * row). In READ COMMITTED the statements after it see everything committed before the
 * lock was granted, so checks made under it are exact.
 */
export function lockUsageRow(db: Pick<PrismaService, '$executeRaw'>, ownerId: string) {
  return db.$executeRaw`
    INSERT INTO usage (owner_id, updated_at) VALUES (${ownerId}, now())
    ON CONFLICT (owner_id) DO UPDATE SET owner_id = EXCLUDED.owner_id`;
}
