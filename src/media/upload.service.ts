import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { rm, unlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { MediaRepository } from '../db/media.repository.js';
import { UsageRepository } from '../db/usage.repository.js';
import { MediaError } from '../errors.js';
import { candidateTypes, type Sniffed } from '../detection/detect-type.js';
import { MEDIA_TYPES } from '../detection/media-types.js';
import type { FreshDataKey } from '../crypto/data-key.service.js';
import {
  FINISH_PROCESSING,
  type FinishProcessingJob,
  JobQueue,
  RENDER_PREVIEWS,
  type RenderPreviewsJob,
} from '../jobs/job-queue.js';
import { MediaProcessor } from '../processing/media-processor.js';
import type { ProcessResult } from '../processing/processor.js';
import { ScreeningService } from '../moderation/screening.service.js';
import { EncryptedBlobs } from './encrypted-blobs.js';
import { proveFormat, proveSealed, type Received, type SealedFile } from './received.js';
import { describeVersion, storeVersions, type StoredVersions } from './stored-versions.js';
import { sanitizeFileName } from './file-name.js';
import { LIMITER, type Limiter } from '../limits/limiter.js';
import { toMediaView, type MediaView } from './media-view.js';
import { SizeGuard } from './streams/size-guard.js';
import { BatchedFileSink } from './streams/batched-file-sink.js';
import { Sniffer } from './streams/sniffer.js';
import { Throttle } from './streams/throttle.js';
import { LeftoverCleanup } from './leftover-cleanup.js';
import { TempFiles } from './temp-files.js';
import { UploadLedger } from './upload-ledger.js';
import { UserLimits } from './user-limits.js';
import { largestLimit, tooLargeFor } from './size-limits.js';
import { refuseByDeclaration } from '../processing/declared-limits.js';
import { Metrics } from '../observability/metrics.js';
import { addStageTime, noteMedia, stage } from '../observability/observation.js';

/** The bytes of one uploaded file, however they reach the service (multipart today). */
export interface IncomingFile {
  file: Readable;
  /** The name the client gave, unsanitised. */
  filename: string;
}

export interface UploadSource {
  ownerId: string;
  /** The request's id, recorded with an incident when the upload is refused. */
  requestId?: string;
  /** The least the file can weigh, from the length the client declared (0 when unknown). */
  minBytes: number;
  /** Starts the transfer, once the upload is admitted: resolves when the file's bytes begin. */
  open(): Promise<IncomingFile>;
  /** Aborted when the client goes away: everything stops and is undone at once. */
  signal: AbortSignal;
  /** Disappearing media: it expires this many seconds after it is stored (docs/behaviour.md, "Expiry"). */
  expiresInSeconds?: number;
}

export interface UploadResult {
  outcome: 'created' | 'duplicate';
  media: MediaView;
}

/** A resumable upload whose sealed file is complete (media/resumable/). */
export interface SealedUpload extends SealedFile {
  ownerId: string;
  requestId?: string;
  /** The quota reservation taken when the upload was created. */
  reservationId: string;
  expiresInSeconds?: number;
}

/** What the rest of the pipeline needs of either edge. */
interface Hold {
  ownerId: string;
  requestId?: string;
  ledger: UploadLedger;
  /** The user's storage quota, checked again exactly by the commit. */
  quotaBytes: number;
  expiresInSeconds?: number;
  signal: AbortSignal;
}

/**
 * The upload pipeline of docs/architecture.md: admit (slot, daily count, declared size) → receive
 * (throttled, sniffed, size-guarded, hashed and sealed in one pass) into a temp file →
 * confirm the format → move the sealed file into storage → commit. The temp file never
 * holds plaintext; one `finally` undoes whatever was not committed.
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
    private readonly processor: MediaProcessor,
    private readonly jobs: JobQueue,
    private readonly screening: ScreeningService,
    private readonly userLimits: UserLimits,
    private readonly leftovers: LeftoverCleanup,
    private readonly metrics: Metrics,
  ) {}

  async upload(source: UploadSource): Promise<UploadResult> {
    const releaseSlot = await this.takeSlot(source.ownerId);
    const path = this.temp.newPath();
    try {
      const limits = await this.userLimits.of(source.ownerId, source.signal);
      const ledger = new UploadLedger(this.usage, source.ownerId, limits, this.temp.tag);
      return await this.finish({ ...source, ledger, quotaBytes: limits.quotaBytes }, async () => {
        this.refuseDeclaredSize(source.minBytes);
        await ledger.reserve(source.minBytes);
        return this.receive(source, path, ledger);
      });
    } finally {
      releaseSlot();
      // A file or nothing (moved into storage): no recursive removal, which would stat it first.
      await unlink(path).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
    }
  }

  /**
   * The other edge: a resumable upload whose sealed file is complete (media/resumable/) goes
   * through the rest of the same pipeline — format proof, screening, processing, storage,
   * commit — under the reservation it took when it was created. The caller holds the user's
   * upload slot and removes the upload's files afterwards; a refusal releases the reservation.
   */
  async completeSealed(upload: SealedUpload): Promise<UploadResult> {
    const limits = await this.userLimits.of(upload.ownerId, upload.signal);
    const ledger = UploadLedger.holding(this.usage, upload.ownerId, limits, upload.reservationId);
    return this.finish({ ...upload, ledger, quotaBytes: limits.quotaBytes }, () =>
      stage('detect', () => proveSealed(this.blobs, this.config.limits.maxBytes, upload)),
    );
  }

  /** Takes one of the user's upload slots (UPLOAD_CONCURRENCY_PER_USER), or refuses; resolves with its release. */
  async takeSlot(ownerId: string): Promise<() => void> {
    const releaseSlot = await this.limiter.acquireUpload(ownerId);
    if (!releaseSlot) throw new MediaError('TOO_MANY_CONCURRENT_UPLOADS', undefined, { retryAfter: 1 });
    return releaseSlot;
  }

  /**
   * Everything after the bytes are in: `receive` gives the sealed file, proven and hashed; it is
   * screened, processed, stored and committed. Whatever was not committed is undone.
   */
  private async finish(hold: Hold, receive: () => Promise<Received>): Promise<UploadResult> {
    const work = this.temp.lazyDir();
    const written: string[] = [];
    let committed = false;
    const known: { sha256?: string; md5?: string; phashes?: bigint[] } = {};
    const context = { ownerId: hold.ownerId, requestId: hold.requestId };
    let sealed: Received['file'] | undefined;
    try {
      const received = await receive();
      sealed = received.file;
      noteMedia({ type: received.format.type });
      Object.assign(known, { sha256: received.sha256, md5: received.md5 });
      const open = () => this.blobs.openSealedFile(received.path, received.dataKey, received.size);
      await stage('detect', () =>
        refuseByDeclaration({ format: received.format, file: received.file }, this.config.processing.image),
      );
      await stage('scan', () =>
        this.screening.screenUpload({
          ...context,
          sha256: received.sha256,
          md5: received.md5,
          open,
          signal: hold.signal,
        }),
      );
      const input = {
        format: received.format,
        size: received.size,
        open,
        file: received.file,
        get workDir() {
          return work.path;
        },
        signal: hold.signal,
      };
      const processed = await stage('process', () => this.processor.process(input));
      const version = await stage('hash', () => describeVersion(this.blobs, received, processed));
      const phashes = processed.phashes ?? [];
      known.phashes = phashes;
      const { reviewReason } = await stage('moderate', () =>
        this.screening.screenVersion({
          ...context,
          type: received.format.type,
          mimeType: version.mime,
          originalSize: received.size,
          storedSize: version.size,
          sha256: received.sha256,
          md5: received.md5,
          storedSha256: version.sha256,
          storedMd5: version.md5,
          phashes,
          signal: hold.signal,
        }),
      );
      const stored = await stage('store', () =>
        storeVersions(this.blobs, hold.ownerId, received, processed, version, written),
      );
      const result = await stage('commit', () =>
        this.commit(received, processed, stored, {
          ownerId: hold.ownerId,
          reservationId: hold.ledger.reservationId,
          quotaBytes: hold.quotaBytes,
          phashes,
          reviewReason,
          expiresInSeconds: hold.expiresInSeconds,
        }),
      );
      noteMedia({ id: result.media.id });
      this.noteCompression(received, result);
      committed = result.outcome === 'created';
      return result;
    } catch (error) {
      await this.screening.recordRejection(error, { ...context, ...known });
      throw error;
    } finally {
      await sealed?.close();
      if (work.made) await rm(work.path, { recursive: true, force: true });
      if (!committed) await this.undo(hold.ledger, written);
    }
  }

  /** A declared length no type accepts is refused before any byte of the body is read. */
  private refuseDeclaredSize(minBytes: number): void {
    const [, limit] = largestLimit(this.config.limits.maxBytes, MEDIA_TYPES);
    if (minBytes > limit) throw tooLargeFor(this.config.limits.maxBytes, MEDIA_TYPES);
  }

  private async receive(source: UploadSource, path: string, ledger: UploadLedger): Promise<Received> {
    const maxBytes = this.config.limits.maxBytes;
    const { file, filename } = await source.open();
    const sniffer = new Sniffer();
    // Until the first bytes are sniffed, the largest limit of any type applies.
    const typesNow = () => (sniffer.result ? candidateTypes(sniffer.result) : MEDIA_TYPES);
    const guard = new SizeGuard({
      limit: () => largestLimit(maxBytes, typesNow())[1],
      tooLarge: () => tooLargeFor(maxBytes, typesNow()),
      onProgress: (total) => ledger.track(total),
    });
    const hasher = this.blobs.hasher(source.minBytes);
    const throttle = new Throttle((bytes) => this.limiter.throttle(source.ownerId, bytes));
    const { dataKey, encryptor } = await this.blobs.sealer(source.ownerId);
    const sink = new BatchedFileSink(path);
    try {
      await stage('receive', () =>
        pipeline([file, throttle, sniffer, guard, hasher, encryptor, sink], { signal: source.signal }),
      );
    } catch (error) {
      // A stream torn down before its file was opened still creates the file, later: wait, so the cleanup finds it.
      if (!sink.closed) await once(sink, 'close');
      throw source.signal.aborted ? source.signal.reason : error;
    } finally {
      addStageTime('seal', encryptor.busyMs / 1000);
    }
    if (guard.total === 0) throw new MediaError('VALIDATION_FAILED', 'The file is empty');
    const plaintext = this.blobs.sealedFile(path, dataKey, guard.total);
    const format = await stage('detect', () => proveFormat(plaintext, sniffer.result as Sniffed, maxBytes));
    return {
      path,
      file: plaintext,
      dataKey,
      name: sanitizeFileName(filename, format.ext),
      size: guard.total,
      sha256: hasher.digest('sha256'),
      md5: hasher.digest('md5'),
      format,
    };
  }

  private async commit(
    file: Received,
    processed: ProcessResult,
    stored: StoredVersions,
    hold: CommitHold,
  ): Promise<UploadResult> {
    const { ownerId, reservationId } = hold;
    const { version } = stored;
    const wrapped = (key: FreshDataKey) => ({ id: key.id, masterKeyId: key.masterKeyId, wrapped: key.wrapped });
    const id = randomUUID();
    const later = processed.finishLater;
    // Queued in the commit's transaction, then woken in this process once it committed.
    const jobs = [...(later ? [FINISH_PROCESSING] : []), ...(processed.previewsFailed ? [RENDER_PREVIEWS] : [])];
    const result = await this.media.create(
      {
        id,
        ownerId,
        type: file.format.type,
        status: later ? 'processing' : 'ready',
        mimeType: version.mime,
        originalMimeType: file.format.mime,
        originalName: file.name,
        originalSize: file.size,
        originalSha256: file.sha256,
        originalMd5: file.md5,
        size: version.size,
        sha256: version.sha256,
        md5: version.md5,
        metadata: { ...processed.metadata, ...(file.format.charset ? { charset: file.format.charset } : {}) },
        blobKey: version.blobKey,
        dataKey: wrapped(version.dataKey),
        phashes: hold.phashes,
        reviewReason: hold.reviewReason,
        expiresAt:
          hold.expiresInSeconds === undefined ? undefined : new Date(Date.now() + hold.expiresInSeconds * 1000),
        previews: stored.previews.map((p) => ({
          size: p.size,
          width: p.width,
          height: p.height,
          mimeType: 'image/webp',
          bytes: p.bytes,
          blobKey: p.blobKey,
          dataKey: wrapped(p.dataKey),
        })),
      },
      {
        reservationId,
        quotaBytes: hold.quotaBytes,
        // Without a job to queue, the commit is one statement and needs no transaction around it.
        alsoInTransaction:
          jobs.length === 0
            ? undefined
            : async (db) => {
                for (const name of jobs)
                  await this.jobs.send<FinishProcessingJob | RenderPreviewsJob>(name, { mediaId: id }, db);
              },
      },
    );
    if ('overQuota' in result) throw new MediaError('QUOTA_EXCEEDED');
    if ('duplicateOf' in result) return { outcome: 'duplicate', media: toMediaView(result.duplicateOf) };
    // Committed: a worker of this process starts on it now, not at its next poll.
    for (const name of jobs) this.jobs.wake(name);
    return { outcome: 'created', media: toMediaView(result.created) };
  }

  /** The stored version's size over the upload's, by stored format (metrics). */
  private noteCompression(received: Received, result: UploadResult): void {
    if (result.outcome !== 'created' || result.media.status !== 'ready' || received.size === 0) return;
    const format = result.media.mimeType.split('/')[1] ?? 'unknown';
    this.metrics.compressionRatio.observe({ format }, result.media.size / received.size);
  }

  /** Gives back what an upload that did not commit still holds (retried until it succeeds). */
  private async undo(ledger: UploadLedger, blobKeys: string[]): Promise<void> {
    await Promise.all([
      this.leftovers.run('an upload’s quota reservation', () => ledger.release()),
      blobKeys.length ? this.leftovers.run('an upload’s blobs', () => this.blobs.delete(blobKeys)) : undefined,
    ]);
  }
}

/** What the commit needs besides the stored versions. */
interface CommitHold {
  ownerId: string;
  reservationId: string;
  /** The user's storage quota, checked again exactly by the commit. */
  quotaBytes: number;
  phashes: bigint[];
  /** Accepted unmoderated (moderation-service down, open mode): why it awaits review. */
  reviewReason?: string;
  expiresInSeconds?: number;
}
