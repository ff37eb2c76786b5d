import { Injectable } from '@nestjs/common';
import type { Readable } from 'node:stream';
import { MediaRepository, type MediaRecord } from '../db/media.repository.js';
import { UsageRepository } from '../db/usage.repository.js';
import { isMediaError, MediaError } from '../errors.js';
import { MEDIA_TYPES } from '../detection/media-types.js';
import type { ByteRange } from '../storage/blob-store.js';
import { type Caller, privilegedRoles } from '../access/caller.js';
import { AccessPolicy } from '../access/access-policy.js';
import { MAX_SIGNED_URL_SECONDS, SignedUrls, type Variant } from '../access/signed-url.js';
import { DeletionService } from './deletion.service.js';
import { UserLimits } from './user-limits.js';
import { EncryptedBlobs } from './encrypted-blobs.js';
import { downloadName } from './file-name.js';
import { UUID } from '../common/uuid.js';

/** A stored file as a download sees it. */
export interface DownloadFile {
  size: number;
  etag: string;
  /** Content-Type, with the charset of text. */
  mimeType: string;
  /** The name to save it under: the uploaded name with the extension of the stored type. */
  name: string;
  /** Absent: `private, no-cache` (revalidate with the ETag). */
  cacheControl?: string;
  /** The plaintext, or the inclusive range of it; only the segments needed are decrypted. A small file comes whole, as a buffer. */
  open(range?: ByteRange): Promise<Readable | Buffer>;
}

/** The Storage object of docs/api.md. */
export interface StorageView {
  usedBytes: number;
  limitBytes: number;
  fileCount: number;
  uploadsToday: number;
  dailyUploadLimit: number;
  byType: Record<string, { count: number; bytes: number }>;
}

/** A signed URL minted: its path and when it stops working. */
export interface MintedUrl {
  url: string;
  expiresAt: string;
}

/**
 * Reading, sharing, deleting and accounting for stored media, for both edges (REST and
 * gRPC); who may do what is asked of the one access policy.
 */
@Injectable()
export class MediaService {
  constructor(
    private readonly media: MediaRepository,
    private readonly usage: UsageRepository,
    private readonly blobs: EncryptedBlobs,
    private readonly access: AccessPolicy,
    private readonly signedUrls: SignedUrls,
    private readonly deletion: DeletionService,
    private readonly userLimits: UserLimits,
  ) {}

  /** The media if the caller may read it; anything else is indistinguishable from absent. */
  async visible(id: string, caller: Caller): Promise<MediaRecord> {
    if (!UUID.test(id)) throw new MediaError('VALIDATION_FAILED', 'The media id must be a UUID');
    const media = await this.media.findById(id.toLowerCase());
    if (!media || !(await this.access.mayRead(media, caller))) throw new MediaError('NOT_FOUND', 'Media not found');
    return media;
  }

  /** Of `ids`, the media the caller may read, in the order asked (unknown, invalid and unreadable ids are left out). */
  async visibleAmong(ids: string[], caller: Caller): Promise<MediaRecord[]> {
    const wanted = [...new Set(ids.filter((id) => UUID.test(id)).map((id) => id.toLowerCase()))];
    const readable = await this.access.readable(await this.media.findByIds(wanted), caller);
    const byId = new Map(readable.map((media) => [media.id, media]));
    return wanted.flatMap((id) => byId.get(id) ?? []);
  }

  /** A signed URL for one variant of a media the caller may read (docs/api.md, "Signed URLs"). */
  async mintSignedUrl(id: string, caller: Caller, variant: Variant, expiresInSeconds: number): Promise<MintedUrl> {
    if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > MAX_SIGNED_URL_SECONDS) {
      throw new MediaError(
        'VALIDATION_FAILED',
        `expiresIn must be a whole number of seconds from 1 to ${MAX_SIGNED_URL_SECONDS}`,
      );
    }
    const media = await this.visible(id, caller);
    const expiresAt = Math.floor(Date.now() / 1000) + expiresInSeconds;
    const url = this.signedUrls.mint({
      mediaId: media.id,
      variant,
      userId: caller.id,
      roles: privilegedRoles(caller.roles),
      expiresAt,
    });
    return { url, expiresAt: new Date(expiresAt * 1000).toISOString() };
  }

  /** What a download needs: the stored file's size, ETag, type and name, and its plaintext (or a range of it). */
  async forDownload(id: string, caller: Caller): Promise<DownloadFile> {
    this.access.checkSignedScope(caller, id, 'original');
    const media = this.ready(await this.visible(id, caller));
    const size = Number(media.size);
    const charset = (media.metadata as { charset?: string } | null)?.charset;
    return {
      size,
      etag: `"${media.sha256}"`,
      mimeType: charset ? `${media.mimeType}; charset=${charset}` : media.mimeType,
      name: downloadName(media.originalName, media.mimeType),
      open: (range) => this.blobs.readToSend({ blobKey: media.blobKey, dataKeyId: media.dataKeyId, size }, range),
    };
  }

  /** A preview of the media in the `size` box (64, 256 or 512), served like a download. */
  async forPreview(id: string, caller: Caller, size: number): Promise<DownloadFile> {
    this.access.checkSignedScope(caller, id, `preview-${size}` as Variant);
    const media = await this.visible(id, caller);
    const preview = media.previews.find((p) => p.size === size);
    // A video's poster frame exists from its upload: a chat shows it while the transcode runs.
    if (!preview || media.status !== 'processing') this.ready(media);
    if (!preview)
      throw new MediaError(
        'NOT_FOUND',
        media.previews.length ? 'This media has no preview of that size' : 'This media has no previews',
      );
    const bytes = Number(preview.bytes);
    const stem = media.originalName.replace(/\.[^.]*$/, '') || 'preview';
    return {
      size: bytes,
      etag: `"${media.sha256}-${size}"`,
      mimeType: preview.mimeType,
      name: `${stem}-${size}.webp`,
      cacheControl: 'private, max-age=86400',
      open: (range) =>
        this.blobs.readToSend({ blobKey: preview.blobKey, dataKeyId: preview.dataKeyId, size: bytes }, range),
    };
  }

  /** Deletes for everyone (the owner or a privileged role; a grantee may read, not delete). */
  async delete(id: string, caller: Caller): Promise<void> {
    const media = await this.manageable(id, caller);
    if (!(await this.deletion.delete(media.id))) throw new MediaError('NOT_FOUND', 'Media not found');
  }

  /** Delete, idempotent (gRPC DeleteMedia): a repeated delete by the media's owner succeeds; an id they never owned is still 404. */
  async deleteAgain(id: string, caller: Caller): Promise<void> {
    try {
      await this.delete(id, caller);
    } catch (error) {
      if (isMediaError(error, 'NOT_FOUND') && (await this.media.wasDeleted(id.toLowerCase(), caller.id))) return;
      throw error;
    }
  }

  /**
   * Disappearing media: the media expires at `expiresAt`, or earlier if it already did
   * (an expiry is only ever brought forward). Returns the expiry in force.
   */
  async setExpiry(id: string, caller: Caller, expiresAt: Date): Promise<Date> {
    const media = await this.manageable(id, caller);
    const inForce = await this.media.bringExpiryForward(media.id, expiresAt);
    if (!inForce) throw new MediaError('NOT_FOUND', 'Media not found');
    return inForce;
  }

  /** The media if the caller may delete it or set its expiry: 404 when they cannot read it, 403 when they can but do not own it. */
  private async manageable(id: string, caller: Caller): Promise<MediaRecord> {
    const media = await this.visible(id, caller);
    if (!this.access.mayManage(media, caller))
      throw new MediaError(
        'FORBIDDEN',
        'Only the owner of a media (or an admin or moderator) may delete it or set its expiry',
      );
    return media;
  }

  /** Processing media is not served yet (409); media whose processing failed never is (404). */
  private ready(media: MediaRecord): MediaRecord {
    if (media.status === 'processing') throw new MediaError('MEDIA_NOT_READY', undefined, { retryAfter: 5 });
    if (media.status === 'failed')
      throw new MediaError('NOT_FOUND', 'Media processing failed; the file is not available');
    return media;
  }

  async storage(caller: Caller): Promise<StorageView> {
    const [snapshot, limits] = await Promise.all([this.usage.snapshot(caller.id), this.userLimits.of(caller.id)]);
    const byType = Object.fromEntries(MEDIA_TYPES.map((type) => [type, { count: 0, bytes: 0 }]));
    for (const row of snapshot.byType) byType[row.type] = { count: row.count, bytes: row.bytes };
    return {
      usedBytes: snapshot.usedBytes,
      limitBytes: limits.quotaBytes,
      fileCount: snapshot.fileCount,
      uploadsToday: snapshot.uploadsToday,
      dailyUploadLimit: limits.dailyUploads,
      byType,
    };
  }
}
