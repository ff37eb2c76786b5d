import { Injectable } from '@nestjs/common';
import { PrismaService } from './prisma.service.js';

export interface UsageDelta {
  /** The delta id user-service applies once. */
  id: string;
  ownerId: string;
  deltaBytes: number;
  deltaFiles: number;
  attempts: number;
}

/** The outbox of usage changes (migration 20261207010000): claimed with a lease, removed once acknowledged. */
@Injectable()
export class UsageOutboxRepository {
  constructor(private readonly prisma: PrismaService) {}

  /**
   * Up to `take` deltas due for delivery, oldest first, leased for `leaseSeconds`: another
   * worker skips them meanwhile, and they come back by themselves if this one dies.
   */
  async claim(take: number, leaseSeconds: number): Promise<UsageDelta[]> {
    const rows = await this.prisma.$queryRaw<
      { id: string; owner_id: string; delta_bytes: bigint; delta_files: number; attempts: number; created_at: Date }[]
    >`
      UPDATE usage_outbox SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => ${leaseSeconds})
      WHERE id IN (SELECT id FROM usage_outbox WHERE next_attempt_at <= now() ORDER BY created_at LIMIT ${take} FOR UPDATE SKIP LOCKED)
      RETURNING id::text, owner_id, delta_bytes, delta_files, attempts, created_at`;
    return rows
      .sort((a, b) => a.created_at.getTime() - b.created_at.getTime())
      .map((row) => ({
        id: row.id,
        ownerId: row.owner_id,
        deltaBytes: Number(row.delta_bytes),
        deltaFiles: row.delta_files,
        attempts: row.attempts,
      }));
  }

  async acknowledge(id: string): Promise<void> {
    await this.prisma.$executeRaw`DELETE FROM usage_outbox WHERE id = ${id}::uuid`;
  }

  /** Tries the delta again in `seconds`. */
  async postpone(id: string, seconds: number): Promise<void> {
    await this.prisma
      .$executeRaw`UPDATE usage_outbox SET next_attempt_at = now() + make_interval(secs => ${seconds}) WHERE id = ${id}::uuid`;
  }

  /** Without user-service nobody reads the outbox: deltas older than `before` are dropped. Returns how many. */
  async discardOlderThan(before: Date): Promise<number> {
    return this.prisma.$executeRaw`DELETE FROM usage_outbox WHERE created_at < ${before}`;
  }
}
