import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { MediaStatus, MediaType } from '../../generated/prisma/enums.js';
import type { Media, Preview, Prisma } from '../../generated/prisma/client.js';
import { boundedCache } from '../common/cache.js';
import { ChangeFeed, FeedCache } from './change-feed.js';
import { isNotFound, PrismaService } from './prisma.service.js';
import type { SqlExecutor } from './sql-executor.js';

/** The channel a trigger announces media changes on (migration 20261203010000). */
export const MEDIA_CHANGES = 'media_changes';

export type MediaRecord = Media & { previews: Preview[] };

export interface NewMedia {
  id: string;
  ownerId: string;
  type: MediaType;
  status: MediaStatus;
  mimeType: string;
  originalMimeType: string;
  originalName: string;
  originalSize: number;
  originalSha256: string;
  originalMd5: string;
  size: number;
  sha256: string;
  md5: string;
  metadata: Record<string, unknown>;
  blobKey: string;
  dataKey: WrappedKey;
  previews: NewPreview[];
  /** pHashes of an image or of video keyframes (signed 64-bit in the database). */
  phashes: bigint[];
  /** Set when accepted unmoderated for later review. */
  reviewReason?: string;
  /** Disappearing media: when it stops being readable and is deleted. */
  expiresAt?: Date;
}

interface WrappedKey {
  id: string;
  masterKeyId: string;
  wrapped: Buffer;
}

export interface NewPreview {
  size: number;
  width: number;
  height: number;
  mimeType: string;
  bytes: number;
  blobKey: string;
  dataKey: WrappedKey;
}

/** What a deletion removed: the blobs to remove from storage after, the keys it destroyed. */
export interface Removed {
  ownerId: string;
  blobKeys: string[];
  dataKeyIds: string[];
}

export type CreateResult = { created: MediaRecord } | { duplicateOf: MediaRecord } | { overQuota: true };

export interface Hold {
  /** The upload's quota reservation, consumed by the commit. */
  reservationId: string;
  quotaBytes: number;
  /** Runs in the commit's transaction (enqueues the media's background job). */
  alsoInTransaction?: (db: SqlExecutor) => Promise<void>;
}

/** A new stored version replacing the one a media was committed with. */
export interface NewVersion {
  mimeType: string;
  size: number;
  sha256: string;
  md5: string;
  blobKey: string;
  dataKey: WrappedKey;
  /** The media's metadata describing the new version (its codecs, bitrate, ...); absent: unchanged. */
  metadata?: Record<string, unknown>;
}

/**
 * Media rows and the usage counters that must move with them, always in one transaction.
 * Rows read by id are kept in a small cache while the change feed is live: every change to
 * a media or its previews, by any process, evicts it (a trigger announces it at commit).
 */
@Injectable()
export class MediaRepository {
  private readonly cache: FeedCache<MediaRecord>;

  constructor(
    private readonly prisma: PrismaService,
    changes: ChangeFeed,
  ) {
    this.cache = new FeedCache(
      changes,
      MEDIA_CHANGES,
      boundedCache<string, MediaRecord>({ max: 5000, maxBytes: 16 * 1024 * 1024 }),
    );
  }

  /** The media and its previews. The record may be shared with other readers: never change it. */
  async findById(id: string): Promise<MediaRecord | null> {
    return this.cache.readThrough(id, () =>
      this.prisma.media.findUnique({ where: { id }, include: { previews: { orderBy: { size: 'asc' } } } }),
    );
  }

  /**
   * Commits an upload under its owner's usage row lock: the same bytes already stored for
   * this owner make it a duplicate, a size that no longer fits the quota refuses it; else
   * the media and its data key are inserted, counted, and the reservation is consumed.
   */
  async create(media: NewMedia, hold: Hold): Promise<CreateResult> {
    const keys = [media.dataKey, ...media.previews.map((p) => p.dataKey)];
    const previews = media.previews.map((p) => ({ ...p, id: randomUUID() }));
    const { dataKey, previews: _previews, phashes, reviewReason, ...row } = media;
    const columns = Object.fromEntries(
      Object.entries({ ...row, dataKeyId: dataKey.id }).map(([name, value]) => [snakeCase(name), value]),
    );
    Object.assign(columns, {
      phashes: phashes.map((h) => BigInt.asIntN(64, h).toString()),
      review_reason: reviewReason ?? null,
    });
    const keyRows = keys.map((k) => ({ id: k.id, master_key_id: k.masterKeyId, wrapped: k.wrapped.toString('hex') }));
    const previewRows = previews.map((p) => ({
      id: p.id,
      size: p.size,
      width: p.width,
      height: p.height,
      mime_type: p.mimeType,
      bytes: p.bytes,
      blob_key: p.blobKey,
      data_key_id: p.dataKey.id,
    }));
    type Outcome = { duplicate_id: string | null; fits: boolean; created_at: Date | null };
    const statement =
      'SELECT duplicate_id, fits, created_at FROM commit_upload($1::uuid, $2::bigint, $3::jsonb, $4::jsonb, $5::jsonb)';
    const values = [
      hold.reservationId,
      hold.quotaBytes,
      JSON.stringify(columns),
      JSON.stringify(keyRows),
      JSON.stringify(previewRows),
    ];
    // One round trip (see commit_upload), unless a job must be queued in the same transaction.
    const alsoInTransaction = hold.alsoInTransaction;
    const [outcome] = alsoInTransaction
      ? await this.prisma.$transaction(async (tx) => {
          const db = transactionSql(tx);
          const result = (await db.executeSql(statement, values)).rows as Outcome[];
          if (result[0].created_at) await alsoInTransaction(db);
          return result;
        })
      : await this.prisma.sql<Outcome>(statement, values);
    if (outcome.duplicate_id) {
      const duplicateOf = await this.findById(outcome.duplicate_id);
      if (!duplicateOf) throw new Error('duplicate media vanished during the upload');
      return { duplicateOf };
    }
    if (!outcome.created_at) return { overQuota: true };
    return { created: createdRecord(media, previews, outcome.created_at) };
  }

  /**
   * Swaps a `processing` media's stored version for `version` and makes it ready, moving
   * the owner's usage by the size difference; returns the replaced blob key to delete, or
   * null when the media is gone or no longer processing (deleted meanwhile).
   */
  async completeProcessing(id: string, version: NewVersion): Promise<string | null> {
    return this.forgetAfter(
      id,
      this.prisma.$transaction(async (tx) => {
        const [media] = await tx.$queryRaw<{ owner_id: string; size: bigint; blob_key: string; data_key_id: string }[]>`
        SELECT owner_id, size, blob_key, data_key_id FROM media WHERE id = ${id}::uuid AND status = 'processing' FOR UPDATE`;
        if (!media) return null;
        await tx.dataKey.create({
          data: { ...version.dataKey, ownerId: media.owner_id, wrapped: new Uint8Array(version.dataKey.wrapped) },
        });
        await tx.media.update({
          where: { id },
          data: {
            status: 'ready',
            mimeType: version.mimeType,
            size: BigInt(version.size),
            sha256: version.sha256,
            md5: version.md5,
            blobKey: version.blobKey,
            dataKeyId: version.dataKey.id,
            ...(version.metadata ? { metadata: version.metadata as Prisma.InputJsonObject } : {}),
          },
        });
        await tx.dataKey.delete({ where: { id: media.data_key_id } });
        await tx.$executeRaw`
        UPDATE usage SET used_bytes = used_bytes + ${version.size}::bigint - ${media.size}::bigint, updated_at = now() WHERE owner_id = ${media.owner_id}`;
        return media.blob_key;
      }),
    );
  }

  /** Adds previews to a media that has none of those sizes; false when the media is gone (the caller deletes the blobs). */
  async addPreviews(mediaId: string, ownerId: string, previews: NewPreview[]): Promise<boolean> {
    return this.forgetAfter(
      mediaId,
      this.prisma.$transaction(async (tx) => {
        const [media] = await tx.$queryRaw<
          { id: string }[]
        >`SELECT id FROM media WHERE id = ${mediaId}::uuid FOR UPDATE`;
        if (!media) return false;
        await tx.dataKey.createMany({
          data: previews.map((p) => ({ ...p.dataKey, ownerId, wrapped: new Uint8Array(p.dataKey.wrapped) })),
        });
        await tx.preview.createMany({
          data: previews.map(({ dataKey: key, bytes, ...preview }) => ({
            ...preview,
            id: randomUUID(),
            mediaId,
            bytes: BigInt(bytes),
            dataKeyId: key.id,
          })),
        });
        return true;
      }),
    );
  }

  /** Marks a `processing` media failed with the error code `reason`; its upload stays stored until deleted. */
  async failProcessing(id: string, reason: string): Promise<void> {
    await this.forgetAfter(
      id,
      this.prisma.media.updateMany({
        where: { id, status: 'processing' },
        data: { status: 'failed', failureReason: reason },
      }),
    );
  }

  /**
   * Deletes the media for everyone, cryptographically: its data keys and those of its
   * previews are destroyed in the transaction that removes it (and its grants) and frees
   * its usage, so no copy of its blobs can be decrypted once it commits. `alsoInTransaction`
   * gets the blob keys and data key ids (to queue the blobs' removal). Null when already gone.
   */
  async delete(
    id: string,
    alsoInTransaction: (db: SqlExecutor, removed: Removed) => Promise<void>,
  ): Promise<Removed | null> {
    try {
      return await this.forgetAfter(
        id,
        this.prisma.$transaction(async (tx) => {
          const media = await tx.media.delete({ where: { id }, include: { previews: true } });
          const removed = {
            ownerId: media.ownerId,
            blobKeys: [media.blobKey, ...media.previews.map((p) => p.blobKey)],
            dataKeyIds: [media.dataKeyId, ...media.previews.map((p) => p.dataKeyId)],
          };
          await tx.dataKey.deleteMany({ where: { id: { in: removed.dataKeyIds } } });
          await tx.$executeRaw`INSERT INTO deleted_media (id, owner_id) VALUES (${id}::uuid, ${media.ownerId}) ON CONFLICT (id) DO NOTHING`;
          await tx.$executeRaw`
          UPDATE usage SET used_bytes = used_bytes - ${media.size}, file_count = file_count - 1, updated_at = now()
          WHERE owner_id = ${media.ownerId}`;
          await alsoInTransaction(transactionSql(tx), removed);
          return removed;
        }),
      );
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  /** Whether `ownerId` owned a media of this id that was deleted (within the last 30 days). */
  async wasDeleted(id: string, ownerId: string): Promise<boolean> {
    return (await this.prisma.deletedMedia.count({ where: { id, ownerId } })) > 0;
  }

  /** Forgets deletions older than `before`; returns how many. */
  async pruneDeleted(before: Date): Promise<number> {
    return (await this.prisma.deletedMedia.deleteMany({ where: { deletedAt: { lt: before } } })).count;
  }

  /** Ids of media expired by `now`, oldest expiry first. */
  async expiredIds(now: Date, take: number): Promise<string[]> {
    const rows = await this.prisma.media.findMany({
      where: { expiresAt: { lte: now } },
      orderBy: { expiresAt: 'asc' },
      take,
      select: { id: true },
    });
    return rows.map((row) => row.id);
  }

  /** A batch of the owner's media ids (account deletion walks them until none is left). */
  async idsOfOwner(ownerId: string, take: number): Promise<string[]> {
    const rows = await this.prisma.media.findMany({
      where: { ownerId },
      orderBy: { id: 'asc' },
      take,
      select: { id: true },
    });
    return rows.map((row) => row.id);
  }

  /**
   * Sets the media's expiry to `expiresAt` unless it already expires earlier (an expiry is
   * only ever brought forward); returns the expiry in force, or null when the media is gone.
   */
  async bringExpiryForward(id: string, expiresAt: Date): Promise<Date | null> {
    const rows = await this.forgetAfter(
      id,
      this.prisma.$queryRaw<{ expires_at: Date }[]>`
      UPDATE media SET expires_at = LEAST(coalesce(expires_at, ${expiresAt}), ${expiresAt}), updated_at = now()
      WHERE id = ${id}::uuid RETURNING expires_at`,
    );
    return rows[0]?.expires_at ?? null;
  }

  /** Media by ids (those that exist), with their previews. */
  async findByIds(ids: string[]): Promise<MediaRecord[]> {
    return this.prisma.media.findMany({
      where: { id: { in: ids } },
      include: { previews: { orderBy: { size: 'asc' } } },
    });
  }

  /** Drops cached rows that this process has just changed elsewhere (e.g. quarantined): it reads its own changes at once. */
  forget(ids: string[]): void {
    this.cache.forget(ids);
  }

  /** This process reads its own change at once; other processes hear of it from the change feed. */
  private async forgetAfter<T>(id: string, change: Promise<T>): Promise<T> {
    try {
      return await change;
    } finally {
      this.forget([id]);
    }
  }

  /** Of the given blob keys, those that a committed row refers to. */
  async referencedBlobKeys(keys: string[]): Promise<Set<string>> {
    const [media, previews] = await Promise.all([
      this.prisma.media.findMany({ where: { blobKey: { in: keys } }, select: { blobKey: true } }),
      this.prisma.preview.findMany({ where: { blobKey: { in: keys } }, select: { blobKey: true } }),
    ]);
    return new Set([...media, ...previews].map((r) => r.blobKey));
  }
}

/** A Prisma transaction as the job queue's executor, so a job is queued exactly when the transaction commits. */
const transactionSql = (tx: Pick<PrismaService, '$queryRawUnsafe'>): SqlExecutor => ({
  executeSql: async (text, values) => ({ rows: await tx.$queryRawUnsafe(text, ...values) }),
});

const snakeCase = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The record the one-statement insert wrote, without reading it back. */
function createdRecord(media: NewMedia, previews: (NewPreview & { id: string })[], createdAt: Date): MediaRecord {
  const { dataKey, previews: _previews, phashes, reviewReason, ...row } = media;
  return {
    ...row,
    phashes: phashes.map((h) => BigInt.asIntN(64, h)),
    quarantinedBy: null,
    needsReview: reviewReason !== undefined,
    reviewReason: reviewReason ?? null,
    failureReason: null,
    expiresAt: row.expiresAt ?? null,
    originalSize: BigInt(row.originalSize),
    size: BigInt(row.size),
    metadata: row.metadata as MediaRecord['metadata'],
    dataKeyId: dataKey.id,
    createdAt,
    updatedAt: createdAt,
    previews: previews
      .map(({ dataKey: key, bytes, ...preview }) => ({
        ...preview,
        mediaId: media.id,
        bytes: BigInt(bytes),
        dataKeyId: key.id,
        createdAt,
      }))
      .sort((a, b) => a.size - b.size),
  };
}
