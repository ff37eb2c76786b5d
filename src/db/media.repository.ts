import { Injectable } from '@nestjs/common';
import type { MediaStatus, MediaType } from '../../generated/prisma/enums.js';
import type { Media, Preview } from '../../generated/prisma/client.js';
import { isNotFound, isUniqueViolation, PrismaService } from './prisma.service.js';

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
  dataKey: { id: string; masterKeyId: string; wrapped: Buffer };
}

export type CreateResult = { created: MediaRecord } | { duplicateOf: MediaRecord };

/** Media rows and the usage counters that must move with them, always in one transaction. */
@Injectable()
export class MediaRepository {
  constructor(private readonly prisma: PrismaService) {}

  findById(id: string): Promise<MediaRecord | null> {
    return this.prisma.media.findUnique({ where: { id }, include: { previews: { orderBy: { size: 'asc' } } } });
  }

  async findByOriginalSha256(ownerId: string, originalSha256: string): Promise<MediaRecord | null> {
    // Usually there is none: ask for the id alone, and for the whole record only on a hit.
    const hit = await this.prisma.media.findUnique({ where: { ownerId_originalSha256: { ownerId, originalSha256 } }, select: { id: true } });
    return hit ? this.findById(hit.id) : null;
  }

  /** Inserts the media and its data key, counts it, and drops the upload's reservation. */
  async create(media: NewMedia, reservationId: string): Promise<CreateResult> {
    const { dataKey, ...row } = media;
    try {
      const created = await this.prisma.$transaction(async (tx) => {
        await tx.dataKey.create({ data: { ...dataKey, ownerId: media.ownerId, wrapped: new Uint8Array(dataKey.wrapped) } });
        const record = await tx.media.create({
          data: { ...row, originalSize: BigInt(row.originalSize), size: BigInt(row.size), metadata: row.metadata as object, dataKeyId: dataKey.id },
        });
        await tx.$executeRaw`
          INSERT INTO usage (owner_id, used_bytes, file_count, updated_at) VALUES (${media.ownerId}, ${media.size}, 1, now())
          ON CONFLICT (owner_id) DO UPDATE SET used_bytes = usage.used_bytes + EXCLUDED.used_bytes,
            file_count = usage.file_count + 1, updated_at = now()`;
        await tx.$executeRaw`
          INSERT INTO daily_uploads (owner_id, day, count) VALUES (${media.ownerId}, (now() AT TIME ZONE 'UTC')::date, 1)
          ON CONFLICT (owner_id, day) DO UPDATE SET count = daily_uploads.count + 1`;
        await tx.quotaReservation.deleteMany({ where: { id: reservationId } });
        return { ...record, previews: [] };
      });
      return { created };
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      // The same bytes were committed by a concurrent upload of this user.
      const existing = await this.findByOriginalSha256(media.ownerId, media.originalSha256);
      if (!existing) throw error;
      return { duplicateOf: existing };
    }
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
