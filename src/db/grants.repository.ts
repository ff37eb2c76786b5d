import { Injectable } from '@nestjs/common';
import { boundedCache } from '../common/cache.js';
import { ChangeFeed, FeedCache } from './change-feed.js';
import { PrismaService } from './prisma.service.js';

/** The channel a trigger announces removed grants on (migration 20261207000000): `<media id>:<user id>`. */
const GRANT_CHANGES = 'grant_changes';

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
 * Grants (media, conversation, user), made by messaging-service. "This user holds a grant
 * of this media" is cached while the change feed is live, and dropped on every replica
 * when a trigger announces a grant removed (revoked, or gone with its media) — as the media
 * rows are. Only holding is cached: a new grant needs no eviction.
 */
@Injectable()
export class GrantsRepository {
  private readonly held: FeedCache<boolean>;

  constructor(
    private readonly prisma: PrismaService,
    changes: ChangeFeed,
  ) {
    this.held = new FeedCache(changes, GRANT_CHANGES, boundedCache<string, boolean>({ max: 10_000 }));
  }

  /** Whether `userId` holds a grant of `mediaId` through any conversation. */
  async has(mediaId: string, userId: string): Promise<boolean> {
    const read = async () =>
      (
        await this.prisma.$queryRaw<
          unknown[]
        >`SELECT 1 FROM media_grants WHERE media_id = ${mediaId}::uuid AND user_id = ${userId} LIMIT 1`
      ).length > 0;
    // Only holding is kept: a grant made later needs no eviction.
    return (await this.held.readThrough(`${mediaId}:${userId}`, read, (held) => held)) === true;
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
    try {
      return await this.prisma.$executeRaw`
      DELETE FROM media_grants WHERE conversation_id = ${revocation.conversationId}
        AND (cardinality(${revocation.userIds}::text[]) = 0 OR user_id = ANY(${revocation.userIds}::text[]))
        AND (cardinality(${revocation.mediaIds}::uuid[]) = 0 OR media_id = ANY(${revocation.mediaIds}::uuid[]))`;
    } finally {
      // This process sees its own revoke at once; the others hear of it from the change feed.
      this.held.forget();
    }
  }
}
