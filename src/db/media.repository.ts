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
      return { created: { ...record, previews: previewRows.sort((a, b) => a.size - b.size) } };
    });
    if (!('duplicateId' in outcome)) return outcome;
    const duplicateOf = await this.findById(outcome.duplicateId);
    if (!duplicateOf) throw new Error('duplicate media vanished during the upload');
    return { duplicateOf };
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
