import { Injectable } from '@nestjs/common';
import { PrismaService } from './prisma.service.js';

export interface NewGrants {
  mediaIds: string[];
  conversationId: string;
  userIds: string[];
  grantedBy: string;
}

export interface Revocation {
  conversationId: string;
  /** Empty: every user of the conversation. */
  userIds: string[];
  /** Empty: every media granted through the conversation. */
  mediaIds: string[];
}

/**
 * Grants (media, conversation, user), made by messaging-service. Read at every read by a
 * non-owner and never cached, so a revoke is seen at once on every replica.
 */
@Injectable()
export class GrantsRepository {
  constructor(private readonly prisma: PrismaService) {}

  /** Whether `userId` holds a grant of `mediaId` through any conversation. */
  async has(mediaId: string, userId: string): Promise<boolean> {
    const rows = await this.prisma.$queryRaw<unknown[]>`SELECT 1 FROM media_grants WHERE media_id = ${mediaId}::uuid AND user_id = ${userId} LIMIT 1`;
    return rows.length > 0;
  }

  /** Of `mediaIds`, those `userId` holds a grant of. */
  async grantedAmong(mediaIds: string[], userId: string): Promise<Set<string>> {
    if (mediaIds.length === 0) return new Set();
    const rows = await this.prisma.$queryRaw<{ media_id: string }[]>`
      SELECT DISTINCT media_id::text FROM media_grants WHERE media_id = ANY(${mediaIds}::uuid[]) AND user_id = ${userId}`;
    return new Set(rows.map((row) => row.media_id));
  }

  /** Adds every (media, user) pair through the conversation; a pair already granted is left as it is. Returns how many are new. */
  async grant(grants: NewGrants): Promise<number> {
    return this.prisma.$executeRaw`
      INSERT INTO media_grants (media_id, conversation_id, user_id, granted_by)
      SELECT m.id, ${grants.conversationId}, u.id, ${grants.grantedBy}
      FROM unnest(${grants.mediaIds}::uuid[]) AS m(id) CROSS JOIN unnest(${grants.userIds}::text[]) AS u(id)
      WHERE EXISTS (SELECT 1 FROM media WHERE media.id = m.id)
      ON CONFLICT DO NOTHING`;
  }

  /** Removes the conversation's grants (of these users, of these media; empty lists: all). Returns how many. */
  async revoke(revocation: Revocation): Promise<number> {
    return this.prisma.$executeRaw`
      DELETE FROM media_grants WHERE conversation_id = ${revocation.conversationId}
        AND (cardinality(${revocation.userIds}::text[]) = 0 OR user_id = ANY(${revocation.userIds}::text[]))
        AND (cardinality(${revocation.mediaIds}::uuid[]) = 0 OR media_id = ANY(${revocation.mediaIds}::uuid[]))`;
  }
}
