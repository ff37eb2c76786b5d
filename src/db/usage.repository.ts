import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { PrismaService } from './prisma.service.js';

export interface UsageSnapshot {
  usedBytes: number;
  fileCount: number;
  uploadsToday: number;
  byType: { type: string; count: number; bytes: number }[];
}

export type ReserveOutcome = { ok: true; reservationId: string } | { ok: false; reason: 'daily' };
export type GrowOutcome = { ok: true } | { ok: false };

/**
 * The quota ledger. An upload holds a reservation row (bytes and one daily slot) while it
 * streams; checks take the owner's usage row FOR UPDATE so concurrent uploads of one user
 * are serialised and can never overshoot, on one instance or many.
 */
@Injectable()
export class UsageRepository {
  constructor(private readonly prisma: PrismaService) {}

  /** Opens a reservation when the user still has a daily upload slot. */
  async reserve(ownerId: string, dailyLimit: number): Promise<ReserveOutcome> {
    return this.prisma.$transaction(async (tx) => {
      await this.lockUsage(tx, ownerId);
      const [{ today, pending }] = await tx.$queryRaw<{ today: number; pending: number }[]>`
        SELECT (SELECT count FROM daily_uploads WHERE owner_id = ${ownerId} AND day = (now() AT TIME ZONE 'UTC')::date)::int AS today,
               (SELECT count(*) FROM quota_reservations WHERE owner_id = ${ownerId})::int AS pending`;
      if ((today ?? 0) + pending >= dailyLimit) return { ok: false, reason: 'daily' } as const;
      const reservationId = randomUUID();
      await tx.quotaReservation.create({ data: { id: reservationId, ownerId } });
      return { ok: true, reservationId } as const;
    });
  }

  /** Sets the reservation to `bytes` if used + all reservations stay within `quota`. */
  async resize(reservationId: string, ownerId: string, bytes: number, quota: number): Promise<GrowOutcome> {
    return this.prisma.$transaction(async (tx) => {
      await this.lockUsage(tx, ownerId);
      const [{ used, others }] = await tx.$queryRaw<{ used: bigint; others: bigint }[]>`
        SELECT (SELECT used_bytes FROM usage WHERE owner_id = ${ownerId}) AS used,
               (SELECT coalesce(sum(bytes), 0) FROM quota_reservations WHERE owner_id = ${ownerId} AND id <> ${reservationId}::uuid)::bigint AS others`;
      if (Number(used) + Number(others) + bytes > quota) return { ok: false } as const;
      const { count } = await tx.quotaReservation.updateMany({ where: { id: reservationId }, data: { bytes: BigInt(bytes), updatedAt: new Date() } });
      return { ok: count === 1 } as const;
    });
  }

  async release(reservationId: string): Promise<void> {
    await this.prisma.quotaReservation.deleteMany({ where: { id: reservationId } });
  }

  /** Removes reservations whose upload has not moved since `before` (a crashed process left them). */
  async releaseStale(before: Date): Promise<number> {
    const { count } = await this.prisma.quotaReservation.deleteMany({ where: { updatedAt: { lt: before } } });
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

  private async lockUsage(tx: Parameters<Parameters<PrismaService['$transaction']>[0]>[0], ownerId: string): Promise<void> {
    await tx.$executeRaw`INSERT INTO usage (owner_id, updated_at) VALUES (${ownerId}, now()) ON CONFLICT (owner_id) DO NOTHING`;
    await tx.$queryRaw`SELECT 1 FROM usage WHERE owner_id = ${ownerId} FOR UPDATE`;
  }
}
