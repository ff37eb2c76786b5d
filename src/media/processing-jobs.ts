import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { Metrics } from '../observability/metrics.js';
import { noteMedia, stage } from '../observability/observation.js';
import { formatOfMime } from '../detection/media-types.js';
import { MediaRepository } from '../db/media.repository.js';
import { isMediaError } from '../errors.js';
import {
  FINISH_PROCESSING,
  type FinishProcessingJob,
  type JobAttempt,
  JobQueue,
  RENDER_PREVIEWS,
  type RenderPreviewsJob,
} from '../jobs/job-queue.js';
import { allOrNone } from '../processing/all-or-none.js';
import { plainCopyOf } from '../processing/plain-copy.js';
import { MediaProcessor } from '../processing/media-processor.js';
import { EncryptedBlobs } from './encrypted-blobs.js';
import { LeftoverCleanup } from './leftover-cleanup.js';
import { TempFiles } from './temp-files.js';

/**
 * The background half of processing, on worker processes (MEDIA_ROLE worker or all): an
 * upload whose transcoding did not fit the processing budget was stored as uploaded and
 * committed `processing`; this reads it back, produces its stored version, swaps it in and
 * makes the media ready (or failed, with a reason, once the file is shown not to decode or
 * the retries are spent).
 */
@Injectable()
export class ProcessingJobs implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ProcessingJobs.name);
  /** Aborted at shutdown: running tools are killed and their jobs retried by the next worker. */
  private readonly stopping = new AbortController();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly jobs: JobQueue,
    private readonly media: MediaRepository,
    private readonly blobs: EncryptedBlobs,
    private readonly processor: MediaProcessor,
    private readonly temp: TempFiles,
    private readonly leftovers: LeftoverCleanup,
    private readonly metrics: Metrics,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.role === 'api') return;
    // Registered once the queue has started (it waits for the database), never holding up the boot.
    this.jobs
      .work<FinishProcessingJob>(FINISH_PROCESSING, this.config.jobs.concurrency, (attempt) => this.finish(attempt))
      .then(() => this.jobs.work<RenderPreviewsJob>(RENDER_PREVIEWS, 1, (attempt) => this.renderPreviews(attempt)))
      .catch((error: unknown) => this.logger.warn({ err: error }, 'no worker for the job queue'));
  }

  onModuleDestroy(): void {
    this.stopping.abort(new Error('shutting down'));
  }

  /** Renders the previews that could not be rendered at upload, from the stored version. */
  async renderPreviews({ data, lastTry }: JobAttempt<RenderPreviewsJob>): Promise<void> {
    const media = await this.media.findById(data.mediaId);
    const format = media && formatOfMime(media.mimeType, (media.metadata as { charset?: string } | null)?.charset);
    if (!media || !format || media.previews.length) return; // deleted, or rendered by an earlier try
    const workDir = await this.temp.newDir();
    const written: string[] = [];
    try {
      const ref = { blobKey: media.blobKey, dataKeyId: media.dataKeyId, size: Number(media.size) };
      const result = await this.processor.process({
        format,
        size: ref.size,
        open: () => this.blobs.read(ref),
        file: await this.blobs.storedFile(ref),
        workDir,
        signal: this.stopping.signal,
        previewsOnly: true,
      });
      if (result.previewsFailed) throw new Error('the previews still do not render');
      const previews = [];
      for (const { data: image, ...preview } of result.previews) {
        const sealed = await this.blobs.storeSealed(media.ownerId, media.type, image, written);
        const { id, masterKeyId, wrapped } = sealed.dataKey;
        previews.push({
          ...preview,
          mimeType: 'image/webp',
          bytes: image.length,
          blobKey: sealed.blobKey,
          dataKey: { id, masterKeyId, wrapped },
        });
      }
      if (await this.media.addPreviews(media.id, media.ownerId, previews)) written.length = 0;
    } catch (error) {
      this.logger.warn({ err: error, mediaId: media.id, final: lastTry }, 'preview rendering failed');
      if (!lastTry) throw error; // retried with backoff; after the last try the media simply has no previews
    } finally {
      if (written.length) await this.leftovers.run('unused previews', () => this.blobs.delete(written));
      await rm(workDir, { recursive: true, force: true });
    }
  }

  async finish({ data, lastTry }: JobAttempt<FinishProcessingJob>): Promise<void> {
    const media = await this.media.findById(data.mediaId);
    if (media?.status !== 'processing') return; // deleted, or finished by an earlier try
    const workDir = await this.temp.newDir();
    const { signal } = this.stopping;
    const written: string[] = [];
    const started = performance.now();
    noteMedia({ id: media.id, type: media.type });
    try {
      const ext = formatOfMime(media.mimeType)?.ext ?? '';
      const source = await this.blobs.read({
        blobKey: media.blobKey,
        dataKeyId: media.dataKeyId,
        size: Number(media.size),
      });
      const input = await plainCopyOf(source, workDir, `input.${ext}`, signal);
      const uploaded = (media.metadata ?? {}) as Record<string, unknown>;
      const output = await stage('process', () =>
        this.processor.finish(media.type, ext, input, workDir, signal, uploaded),
      );
      // Its pHashes stay the upload's: the keyframes it was screened by are this version's frames at the same times.
      // Its metadata (a probe of its file) is taken while it is sealed, not after.
      const [stored, metadata] = await allOrNone({ signal }, (shared) => [
        stage('store', () =>
          this.blobs.storeSealedStream(media.ownerId, media.type, createReadStream(output.path), written),
        ),
        stage('process', () => output.describe(shared.signal)),
      ]);
      const wrapped = {
        id: stored.dataKey.id,
        masterKeyId: stored.dataKey.masterKeyId,
        wrapped: stored.dataKey.wrapped,
      };
      // Metadata describes the new version (its codecs, bitrate, ...), as mimeType and size do.
      const version = { ...stored, dataKey: wrapped, mimeType: output.mime, metadata };
      const replaced = await stage('commit', () => this.media.completeProcessing(media.id, version));
      this.metrics.processingDuration.observe({ media_type: media.type }, (performance.now() - started) / 1000);
      const format = output.mime.split('/')[1] ?? 'unknown';
      this.metrics.compressionRatio.observe({ format }, stored.size / Math.max(1, Number(media.originalSize)));
      written.length = 0; // stored.blobKey is the media's now, or (not replaced: deleted meanwhile) removed below
      await this.leftovers.run('a replaced version', () => this.blobs.delete([replaced ?? stored.blobKey]));
    } catch (error) {
      if (written.length) await this.leftovers.run('an unused version', () => this.blobs.delete(written));
      const final = !signal.aborted && (isMediaError(error, 'CORRUPT_FILE') || lastTry);
      this.logger.warn({ err: error, mediaId: media.id, final }, 'background processing failed');
      if (!final) throw error; // retried with backoff
      await this.media.failProcessing(media.id, isMediaError(error) ? error.code : 'INTERNAL_ERROR');
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }
}
