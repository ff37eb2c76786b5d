import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { MediaRepository } from '../db/media.repository.js';
import { UsageRepository } from '../db/usage.repository.js';
import { MediaError } from '../errors.js';
import { candidateTypes, confirm, type Sniffed } from '../processing/detect-type.js';
import type { DetectedFormat } from '../processing/media-types.js';
import type { FreshDataKey } from '../crypto/data-key.service.js';
import { EncryptedBlobs } from './encrypted-blobs.js';
import { sanitizeFileName } from './file-name.js';
import { LIMITER, type Limiter } from './limits/limiter.js';
import { toMediaView, type MediaView } from './media-view.js';
import { receiveSingleFile } from './multipart.js';
import { Hasher } from './streams/hasher.js';
import { SizeGuard } from './streams/size-guard.js';
import { Sniffer } from './streams/sniffer.js';
import { Throttle } from './streams/throttle.js';
import { TempFiles } from './temp-files.js';
import { UploadQuota } from './upload-quota.js';

export interface UploadResult {
  /** 201 for new media, 200 when the caller already had these bytes. */
  status: 200 | 201;
  media: MediaView;
}

interface Received {
  /** The sealed temp file. */
  path: string;
  dataKey: FreshDataKey;
  name: string;
  size: number;
  sha256: string;
  md5: string;
  format: DetectedFormat;
}

/**
 * The upload pipeline of DESIGN §2: limits → stream (throttled, sniffed, size-guarded,
 * hashed and sealed in one pass) to a temp file → confirm the format → move the sealed
 * file into storage → commit. The temp file never holds plaintext.
 */
@Injectable()
export class UploadService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LIMITER) private readonly limiter: Limiter,
    private readonly usage: UsageRepository,
    private readonly media: MediaRepository,
    private readonly blobs: EncryptedBlobs,
    private readonly temp: TempFiles,
  ) {}

  async upload(req: IncomingMessage, ownerId: string): Promise<UploadResult> {
    const release = await this.limiter.acquireUpload(ownerId);
    if (!release) throw new MediaError('TOO_MANY_CONCURRENT_UPLOADS', undefined, { retryAfter: 1 });
    try {
      const quota = new UploadQuota(this.usage, ownerId, this.config.limits, this.temp.tag);
      const path = this.temp.newPath();
      try {
        const received = await this.receive(req, ownerId, path, quota);
        return await this.store(received, ownerId, quota);
      } finally {
        await rm(path, { force: true });
        await quota.release();
      }
    } finally {
      release();
    }
  }

  private async receive(req: IncomingMessage, ownerId: string, path: string, quota: UploadQuota): Promise<Received> {
    const maxBytes = this.config.limits.maxBytes;
    let limit = Math.max(...Object.values(maxBytes));
    const sniffer = new Sniffer((sniffed) => (limit = Math.max(...candidateTypes(sniffed).map((t) => maxBytes[t]))));
    const guard = new SizeGuard({
      limit: () => limit,
      tooLarge: () => new MediaError('FILE_TOO_LARGE'),
      onProgress: (total) => quota.cover(total),
    });
    const hasher = new Hasher(['sha256', 'md5']);
    const throttle = new Throttle((bytes) => this.limiter.throttle(ownerId, bytes));
    const { dataKey, encryptor } = await this.blobs.sealer(ownerId);
    const part = await receiveSingleFile(req, { path, transforms: [throttle, sniffer, guard, hasher, encryptor], maxFileBytes: limit });
    if (guard.total === 0) throw new MediaError('VALIDATION_FAILED', 'The file is empty');
    const format = await confirm(sniffer.result as Sniffed, this.blobs.sealedFile(path, dataKey, guard.total));
    if (guard.total > maxBytes[format.type]) throw new MediaError('FILE_TOO_LARGE');
    return {
      path,
      dataKey,
      name: sanitizeFileName(part.filename, format.ext),
      size: guard.total,
      sha256: hasher.digest('sha256'),
      md5: hasher.digest('md5'),
      format,
    };
  }

  private async store(file: Received, ownerId: string, quota: UploadQuota): Promise<UploadResult> {
    // Files are stored as uploaded for now; the processing stage will produce the stored version here.
    // The duplicate lookup and the final claim run beside the move into storage; either outcome undoes the move.
    const [stored, existing, settled] = await Promise.allSettled([
      this.blobs.storeFile(file.path),
      this.media.findByOriginalSha256(ownerId, file.sha256),
      quota.settle(file.size),
    ]);
    const blobKey = stored.status === 'fulfilled' ? stored.value : undefined;
    const duplicate = existing.status === 'fulfilled' ? existing.value : null;
    const failure = [existing, stored, settled].find((outcome) => outcome.status === 'rejected');
    if (duplicate || failure || !blobKey) {
      if (blobKey) await this.blobs.delete([blobKey]);
      if (duplicate) return { status: 200, media: toMediaView(duplicate) };
      throw (failure as PromiseRejectedResult).reason;
    }
    const result = await this.commit(file, ownerId, blobKey, await quota.reservationId());
    if (result.status === 201) quota.committed(); // a duplicate's transaction rolled back: its reservation stays to release
    return result;
  }

  private async commit(file: Received, ownerId: string, blobKey: string, reservationId: string): Promise<UploadResult> {
    const { dataKey } = file;
    try {
      const result = await this.media.create(
        {
          id: randomUUID(),
          ownerId,
          type: file.format.type,
          status: 'ready',
          mimeType: file.format.mime,
          originalMimeType: file.format.mime,
          originalName: file.name,
          originalSize: file.size,
          originalSha256: file.sha256,
          originalMd5: file.md5,
          size: file.size,
          sha256: file.sha256,
          md5: file.md5,
          metadata: file.format.charset ? { charset: file.format.charset } : {},
          blobKey,
          dataKey: { id: dataKey.id, masterKeyId: dataKey.masterKeyId, wrapped: dataKey.wrapped },
        },
        reservationId,
      );
      if ('created' in result) return { status: 201, media: toMediaView(result.created) };
      await this.blobs.delete([blobKey]);
      return { status: 200, media: toMediaView(result.duplicateOf) };
    } catch (error) {
      await this.blobs.delete([blobKey]).catch(() => {});
      throw error;
    }
  }
}
