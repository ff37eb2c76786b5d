import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { extensionsOf } from '../detection/media-types.js';
import { MediaRepository } from '../db/media.repository.js';
import { isMediaError } from '../errors.js';
import { FINISH_PROCESSING, type FinishProcessingJob, type JobAttempt, JobQueue } from '../jobs/job-queue.js';
import { plainCopyOf } from '../processing/plain-copy.js';
import { MediaProcessor } from '../processing/media-processor.js';
import { EncryptedBlobs } from './encrypted-blobs.js';
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
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.role === 'api') return;
    // Registered once the queue has started (it waits for the database), never holding up the boot.
    this.jobs
      .work<FinishProcessingJob>(FINISH_PROCESSING, this.config.jobs.concurrency, (attempt) => this.finish(attempt))
      .catch((error: unknown) => this.logger.warn({ err: error }, 'no worker for the job queue'));
  }

  onModuleDestroy(): void {
    this.stopping.abort(new Error('shutting down'));
  }

  async finish({ data, lastTry }: JobAttempt<FinishProcessingJob>): Promise<void> {
    const media = await this.media.findById(data.mediaId);
    if (media?.status !== 'processing') return; // deleted, or finished by an earlier try
    const workDir = await this.temp.newDir();
    const { signal } = this.stopping;
    let written: string | undefined;
    try {
      const ext = extensionsOf(media.mimeType)[0];
      const source = await this.blobs.read({ blobKey: media.blobKey, dataKeyId: media.dataKeyId, size: Number(media.size) });
      const input = await plainCopyOf(source, workDir, `input.${ext}`, signal);
      const output = await this.processor.finish(media.type, ext, input, workDir, signal);
      const stored = await this.blobs.storeSealedStream(media.ownerId, createReadStream(output.path));
      written = stored.blobKey;
      const wrapped = { id: stored.dataKey.id, masterKeyId: stored.dataKey.masterKeyId, wrapped: stored.dataKey.wrapped };
      const replaced = await this.media.completeProcessing(media.id, { ...stored, dataKey: wrapped, mimeType: output.mime });
      if (replaced) written = undefined;
      await this.blobs.delete([replaced ?? stored.blobKey]);
    } catch (error) {
      if (written) await this.blobs.delete([written]).catch(() => {});
      const final = !signal.aborted && (isMediaError(error, 'CORRUPT_FILE') || lastTry);
      this.logger.warn({ err: error, mediaId: media.id, final }, 'background processing failed');
      if (!final) throw error; // retried with backoff
      await this.media.failProcessing(media.id, isMediaError(error) ? error.code : 'INTERNAL_ERROR');
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }
}
