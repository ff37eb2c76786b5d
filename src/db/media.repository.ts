import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { MediaStatus, MediaType } from '../../generated/prisma/enums.js';
import type { Media, Preview } from '../../generated/prisma/client.js';
import { isNotFound, PrismaService } from './prisma.service.js';
import { lockUsageRow } from './usage.repository.js';

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

export type CreateResult = { created: MediaRecord } | { duplicateOf: MediaRecord } | { overQuota: true };

export interface Hold {
  /** The upload's quota reservation, consumed by the commit. */
  reservationId: string;
  quotaBytes: number;
  /** Runs in the commit's transaction (enqueues the media's background job). */
  alsoInTransaction?: (db: SqlExecutor) => Promise<void>;
}

/** Runs SQL on a Prisma transaction, for code that takes a plain executor (the job queue). */
type SqlExecutor = { executeSql(text: string, values: unknown[]): Promise<{ rows: unknown[] }> };

/** A new stored version replacing the one a media was committed with. */
export interface NewVersion {
  mimeType: string;
  size: number;
  sha256: string;
  md5: string;
  blobKey: string;
  dataKey: WrappedKey;
}

/** Media rows and the usage counters that must move with them, always in one transaction. */
@Injectable()
export class MediaRepository {
  constructor(private readonly prisma: PrismaService) {}

  findById(id: string): Promise<MediaRecord | null> {
    return this.prisma.media.findUnique({ where: { id }, include: { previews: { orderBy: { size: 'asc' } } } });
  }

  /**
   * Commits an upload under its owner's usage row lock: the same bytes already stored for
   * this owner make it a duplicate, a size that no longer fits the quota refuses it; else
   * the media and its data key are inserted, counted, and the reservation is consumed.
   */
  async create(media: NewMedia, hold: Hold): Promise<CreateResult> {
    const { dataKey, previews, ...row } = media;
    const keyRow = (key: WrappedKey) => ({ ...key, ownerId: media.ownerId, wrapped: new Uint8Array(key.wrapped) });
    const outcome = await this.prisma.$transaction(async (tx): Promise<Exclude<CreateResult, { duplicateOf: MediaRecord }> | { duplicateId: string }> => {
      await lockUsageRow(tx, media.ownerId);
      const [existing] = await tx.$queryRaw<{ id: string }[]>`
        SELECT id FROM media WHERE owner_id = ${media.ownerId} AND original_sha256 = ${media.originalSha256}`;
      if (existing) return { duplicateId: existing.id };
      const [{ fits }] = await tx.$queryRaw<{ fits: boolean }[]>`
        SELECT (SELECT used_bytes FROM usage WHERE owner_id = ${media.ownerId})
          + (SELECT coalesce(sum(bytes), 0) FROM quota_reservations WHERE owner_id = ${media.ownerId} AND id <> ${hold.reservationId}::uuid)
          + ${media.size}::bigint <= ${hold.quotaBytes}::bigint AS fits`;
      if (!fits) return { overQuota: true };
      await tx.dataKey.createMany({ data: [dataKey, ...previews.map((p) => p.dataKey)].map(keyRow) });
      const record = await tx.media.create({
        data: { ...row, originalSize: BigInt(row.originalSize), size: BigInt(row.size), metadata: row.metadata as object, dataKeyId: dataKey.id },
      });
      const previewRows = await tx.preview.createManyAndReturn({
        data: previews.map(({ dataKey: key, bytes, ...preview }) => ({ ...preview, id: randomUUID(), mediaId: media.id, bytes: BigInt(bytes), dataKeyId: key.id })),
      });
      await tx.$executeRaw`
        UPDATE usage SET used_bytes = used_bytes + ${media.size}, file_count = file_count + 1, updated_at = now()
        WHERE owner_id = ${media.ownerId}`;
      await tx.$executeRaw`
        INSERT INTO daily_uploads (owner_id, day, count) VALUES (${media.ownerId}, (now() AT TIME ZONE 'UTC')::date, 1)
        ON CONFLICT (owner_id, day) DO UPDATE SET count = daily_uploads.count + 1`;
      await tx.quotaReservation.deleteMany({ where: { id: hold.reservationId } });
      const executor: SqlExecutor = { executeSql: async (text, values) => ({ rows: await tx.$queryRawUnsafe(text, ...values) }) };
      await hold.alsoInTransaction?.(executor);
      return { created: { ...record, previews: previewRows.sort((a, b) => a.size - b.size) } };
    });
    if (!('duplicateId' in outcome)) return outcome;
    const duplicateOf = await this.findById(outcome.duplicateId);
    if (!duplicateOf) throw new Error('duplicate media vanished during the upload');
    return { duplicateOf };
  }

  /**
   * Swaps a `processing` media's stored version for `version` and makes it ready, moving
   * the owner's usage by the size difference; returns the replaced blob key to delete, or
   * null when the media is gone or no longer processing (deleted meanwhile).
   */
  async completeProcessing(id: string, version: NewVersion): Promise<string | null> {
    return this.prisma.$transaction(async (tx) => {
      const [media] = await tx.$queryRaw<{ owner_id: string; size: bigint; blob_key: string; data_key_id: string }[]>`
        SELECT owner_id, size, blob_key, data_key_id FROM media WHERE id = ${id}::uuid AND status = 'processing' FOR UPDATE`;
      if (!media) return null;
      await tx.dataKey.create({ data: { ...version.dataKey, ownerId: media.owner_id, wrapped: new Uint8Array(version.dataKey.wrapped) } });
      await tx.media.update({
        where: { id },
        data: { status: 'ready', mimeType: version.mimeType, size: BigInt(version.size), sha256: version.sha256, md5: version.md5, blobKey: version.blobKey, dataKeyId: version.dataKey.id },
      });
      await tx.dataKey.delete({ where: { id: media.data_key_id } });
      await tx.$executeRaw`
        UPDATE usage SET used_bytes = used_bytes + ${version.size}::bigint - ${media.size}::bigint, updated_at = now() WHERE owner_id = ${media.owner_id}`;
      return media.blob_key;
    });
  }

  /** Adds previews to a media that has none of those sizes; false when the media is gone (the caller deletes the blobs). */
  async addPreviews(mediaId: string, ownerId: string, previews: NewPreview[]): Promise<boolean> {
    return this.prisma.$transaction(async (tx) => {
      const [media] = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM media WHERE id = ${mediaId}::uuid FOR UPDATE`;
      if (!media) return false;
      await tx.dataKey.createMany({ data: previews.map((p) => ({ ...p.dataKey, ownerId, wrapped: new Uint8Array(p.dataKey.wrapped) })) });
      await tx.preview.createMany({
        data: previews.map(({ dataKey: key, bytes, ...preview }) => ({ ...preview, id: randomUUID(), mediaId, bytes: BigInt(bytes), dataKeyId: key.id })),
      });
      return true;
    });
  }

  /** Marks a `processing` media failed with the error code `reason`; its upload stays stored until deleted. */
  async failProcessing(id: string, reason: string): Promise<void> {
    await this.prisma.media.updateMany({ where: { id, status: 'processing' }, data: { status: 'failed', failureReason: reason } });
  }

  /** Deletes the media, its previews and keys, and frees its usage; returns the blob keys to delete. */
  async delete(id: string): Promise<string[] | null> {
    try {
      return await this.prisma.$transaction(async (tx) => {
        const media = await tx.media.delete({ where: { id }, include: { previews: true } });
        await tx.dataKey.deleteMany({ where: { id: { in: [media.dataKeyId, ...media.previews.map((p) => p.dataKeyId)] } } });
        await tx.$executeRaw`
          UPDATE usage SET used_bytes = used_bytes - ${media.size}, file_count = file_count - 1, updated_at = now()
          WHERE owner_id = ${media.ownerId}`;
        return [media.blobKey, ...media.previews.map((p) => p.blobKey)];
      });
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
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
