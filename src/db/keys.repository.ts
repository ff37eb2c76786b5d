import { Injectable } from '@nestjs/common';
import type { DataKey } from '../../generated/prisma/client.js';
import { boundedCache } from '../common/cache.js';
import { PrismaService } from './prisma.service.js';

/** Per-user salts and wrapped data keys. */
@Injectable()
export class KeysRepository {
  /** Salts never change once written, so they are safe to cache. */
  private readonly salts = boundedCache<string, Buffer>({ max: 10_000, ownBuffers: true });

  constructor(private readonly prisma: PrismaService) {}

  /** The user's salt, created on first use (a concurrent creator wins, both read the same). */
  async saltFor(ownerId: string, create: () => Buffer): Promise<Buffer> {
    const cached = this.salts.get(ownerId);
    if (cached) return cached;
    const existing = await this.prisma.userKey.findUnique({ where: { ownerId } });
    if (!existing) {
      // ON CONFLICT rather than catching a unique violation, which PostgreSQL would log as an ERROR.
      await this.prisma.$executeRaw`
        INSERT INTO user_keys (owner_id, salt, created_at) VALUES (${ownerId}, ${create()}, now()) ON CONFLICT (owner_id) DO NOTHING`;
    }
    const row = existing ?? (await this.prisma.userKey.findUniqueOrThrow({ where: { ownerId } }));
    const salt = Buffer.from(row.salt);
    this.salts.set(ownerId, salt);
    return salt;
  }

  findDataKey(id: string): Promise<DataKey | null> {
    return this.prisma.dataKey.findUnique({ where: { id } });
  }

  /** A batch of data keys not yet wrapped under `currentMasterKeyId`, in id order after `afterId`. */
  staleDataKeys(currentMasterKeyId: string, afterId: string | undefined, take: number): Promise<DataKey[]> {
    return this.prisma.dataKey.findMany({
      where: { masterKeyId: { not: currentMasterKeyId }, ...(afterId ? { id: { gt: afterId } } : {}) },
      orderBy: { id: 'asc' },
      take,
    });
  }

  /** Replaces a wrapped key only if nobody re-wrapped it meanwhile. */
  async rewrap(id: string, fromMasterKeyId: string, toMasterKeyId: string, wrapped: Buffer): Promise<boolean> {
    const { count } = await this.prisma.dataKey.updateMany({
      where: { id, masterKeyId: fromMasterKeyId },
      data: { masterKeyId: toMasterKeyId, wrapped: new Uint8Array(wrapped) },
    });
    return count === 1;
  }

  countByMasterKey(): Promise<{ masterKeyId: string; count: number }[]> {
    return this.prisma.dataKey
      .groupBy({ by: ['masterKeyId'], _count: { _all: true } })
      .then((rows) => rows.map((r) => ({ masterKeyId: r.masterKeyId, count: r._count._all })));
  }
}
