import { Inject, Injectable } from '@nestjs/common';
import type { Readable } from 'node:stream';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { MediaRepository, type MediaRecord } from '../db/media.repository.js';
import { UsageRepository } from '../db/usage.repository.js';
import { MediaError } from '../errors.js';
import { MEDIA_TYPES } from '../detection/media-types.js';
import type { ByteRange } from '../storage/blob-store.js';
import type { Caller } from '../access/caller.js';
import { mayRead } from '../access/access-policy.js';
import { EncryptedBlobs } from './encrypted-blobs.js';
import { downloadName } from './file-name.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

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
  /** The plaintext, or the inclusive range of it; only the segments needed are decrypted. */
  open(range?: ByteRange): Promise<Readable>;
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

/** Reading, deleting and accounting for stored media, with the access rule in one place. */
@Injectable()
export class MediaService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly media: MediaRepository,
    private readonly usage: UsageRepository,
    private readonly blobs: EncryptedBlobs,
  ) {}

  /**
   * The media if the caller may see it; anything else is indistinguishable from absent.
   * Its owner may, unless a blocklist entry quarantined it; admins and moderators always may.
   */
  async visible(id: string, caller: Caller): Promise<MediaRecord> {
    if (!UUID.test(id)) throw new MediaError('VALIDATION_FAILED', 'The media id must be a UUID');
    const media = await this.media.findById(id.toLowerCase());
    if (!media || !mayRead(media, caller)) throw new MediaError('NOT_FOUND', 'Media not found');
    return media;
  }

  /** What a download needs: the stored file's size, ETag, type and name, and its plaintext (or a range of it). */
  async forDownload(id: string, caller: Caller): Promise<DownloadFile> {
    const media = this.ready(await this.visible(id, caller));
    const size = Number(media.size);
    const charset = (media.metadata as { charset?: string } | null)?.charset;
    return {
      size,
      etag: `"${media.sha256}"`,
      mimeType: charset ? `${media.mimeType}; charset=${charset}` : media.mimeType,
      name: downloadName(media.originalName, media.mimeType),
      open: (range) => this.blobs.read({ blobKey: media.blobKey, dataKeyId: media.dataKeyId, size }, range),
    };
  }

  /** A preview of the media in the `size` box (64, 256 or 512), served like a download. */
  async forPreview(id: string, caller: Caller, size: number): Promise<DownloadFile> {
    const media = await this.visible(id, caller);
    const preview = media.previews.find((p) => p.size === size);
    // A video's poster frame exists from its upload: a chat shows it while the transcode runs.
    if (!preview || media.status !== 'processing') this.ready(media);
    if (!preview) throw new MediaError('NOT_FOUND', media.previews.length ? 'This media has no preview of that size' : 'This media has no previews');
    const bytes = Number(preview.bytes);
    const stem = media.originalName.replace(/\.[^.]*$/, '') || 'preview';
    return {
      size: bytes,
      etag: `"${media.sha256}-${size}"`,
      mimeType: preview.mimeType,
      name: `${stem}-${size}.webp`,
      cacheControl: 'private, max-age=86400',
      open: (range) => this.blobs.read({ blobKey: preview.blobKey, dataKeyId: preview.dataKeyId, size: bytes }, range),
    };
  }

  async delete(id: string, caller: Caller): Promise<void> {
    const media = await this.visible(id, caller);
    const blobKeys = await this.media.delete(media.id);
    if (!blobKeys) throw new MediaError('NOT_FOUND', 'Media not found');
    // Rows are gone first: a crash here leaves only blobs without rows, which the sweeper removes.
    await this.blobs.delete(blobKeys);
  }

  /** Processing media is not served yet (409); media whose processing failed never is (404). */
  private ready(media: MediaRecord): MediaRecord {
    if (media.status === 'processing') throw new MediaError('MEDIA_NOT_READY', undefined, { retryAfter: 5 });
    if (media.status === 'failed') throw new MediaError('NOT_FOUND', 'Media processing failed; the file is not available');
    return media;
  }

  async storage(caller: Caller): Promise<StorageView> {
    const snapshot = await this.usage.snapshot(caller.id);
    const byType = Object.fromEntries(MEDIA_TYPES.map((type) => [type, { count: 0, bytes: 0 }]));
    for (const row of snapshot.byType) byType[row.type] = { count: row.count, bytes: row.bytes };
    return {
      usedBytes: snapshot.usedBytes,
      limitBytes: this.config.limits.quotaBytes,
      fileCount: snapshot.fileCount,
      uploadsToday: snapshot.uploadsToday,
      dailyUploadLimit: this.config.limits.dailyUploads,
      byType,
    };
  }
}
