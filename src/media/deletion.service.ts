import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { MediaRepository } from '../db/media.repository.js';
import { DELETE_BLOBS, type DeleteBlobsJob, type JobAttempt, JobQueue } from '../jobs/job-queue.js';
import { EncryptedBlobs } from './encrypted-blobs.js';

/** How often the worker looks for expired media: well inside the 60 s the contract allows. */
export const EXPIRY_SWEEP_MS = 10_000;
const BATCH = 100;
/** How long a deleted media's id is remembered (a repeated delete by its owner succeeds). */
const TOMBSTONE_DAYS = 30;

/**
 * Deletion, the one way a media goes (REST DELETE, gRPC DeleteMedia, expiry, account
 * deletion): the transaction that removes the media destroys its data keys and queues the
 * removal of its blobs, so once it commits no copy of the blobs can be decrypted; the
 * blobs go after, by a retried job (and the sweeper removes any blob left without a row).
 * Expired media are found by a timer on workers, from the database: a restart or a dead
 * worker delays a deletion by one sweep, never loses it.
 */
@Injectable()
export class DeletionService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(DeletionService.name);
  private timer?: NodeJS.Timeout;
  private sweeping?: Promise<number>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly media: MediaRepository,
    private readonly blobs: EncryptedBlobs,
    private readonly jobs: JobQueue,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.role === 'api') return;
    this.jobs
      .work<DeleteBlobsJob>(DELETE_BLOBS, 1, (attempt) => this.removeBlobs(attempt))
      .catch((error: unknown) => this.logger.warn({ err: error }, 'no worker for blob removal'));
    const sweep = () =>
      void this.deleteExpired().catch((error: unknown) =>
        this.logger.warn(`expiry sweep failed: ${(error as Error).message}`),
      );
    sweep();
    this.timer = setInterval(sweep, EXPIRY_SWEEP_MS).unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping?.catch(() => {});
  }

  /** Deletes the media for everyone; false when it was already gone (a repeated delete changes nothing). */
  async delete(id: string): Promise<boolean> {
    const removed = await this.media.delete(id, (db, { blobKeys }) =>
      this.jobs.send<DeleteBlobsJob>(DELETE_BLOBS, { blobKeys }, db),
    );
    if (!removed) return false;
    this.blobs.forget(removed);
    return true;
  }

  /** Deletes every media whose expiry has passed; returns how many. One sweep at a time per process. */
  deleteExpired(now = new Date()): Promise<number> {
    this.sweeping ??= (async () => {
      const deleted = await this.deleteAll(() => this.media.expiredIds(now, BATCH));
      await this.media.pruneDeleted(new Date(now.getTime() - TOMBSTONE_DAYS * 86_400_000));
      return deleted;
    })().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  /** Account deletion: every media of the user, in batches; safe to run again after an interruption. */
  deleteUserMedia(ownerId: string): Promise<number> {
    return this.deleteAll(() => this.media.idsOfOwner(ownerId, BATCH));
  }

  private async deleteAll(nextBatch: () => Promise<string[]>): Promise<number> {
    let deleted = 0;
    for (let batch = await nextBatch(); batch.length > 0; batch = await nextBatch()) {
      for (const id of batch) if (await this.delete(id)) deleted++;
    }
    return deleted;
  }

  private async removeBlobs({ data }: JobAttempt<DeleteBlobsJob>): Promise<void> {
    await this.blobs.delete(data.blobKeys); // deleting a blob that is gone succeeds: a retry is harmless
  }
}
