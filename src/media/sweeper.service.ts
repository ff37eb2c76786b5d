import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { UsageRepository } from '../db/usage.repository.js';
import { killProcessesUsing } from './orphan-processes.js';
import { MediaRepository } from '../db/media.repository.js';
import { BLOB_PREFIX } from '../storage/blob-keys.js';
import { BLOB_STORE, type BlobInfo, type BlobStore } from '../storage/blob-store.js';
import { JobQueue } from '../jobs/job-queue.js';
import { TempFiles } from './temp-files.js';

/** Processes (their temp dirs, reservations and jobs) are checked often, the blob store's listing rarely. */
const PROCESSES_EVERY_MS = 60_000;
const BLOBS_EVERY = 10;
/** A blob younger than this may belong to an upload that has not committed yet. */
export const ORPHAN_GRACE_MS = 30 * 60_000;
/** A reservation not touched for this long belongs to a process that is gone (live uploads claim at least every minute). */
export const RESERVATION_STALE_MS = 5 * 60_000;
const BATCH = 500;

export interface SweepReport {
  tempDirs: number;
  blobs: number;
  reservations: number;
  jobs: number;
}

/**
 * Repairs what a crash can leave behind: temp files, quota reservations and running jobs of
 * processes that are gone (at start-up, then every minute), blobs without rows.
 */
@Injectable()
export class SweeperService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(SweeperService.name);
  private timer?: NodeJS.Timeout;
  private rounds = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly temp: TempFiles,
    private readonly media: MediaRepository,
    private readonly usage: UsageRepository,
    @Inject(BLOB_STORE) private readonly store: BlobStore,
    private readonly jobs: JobQueue,
  ) {}

  onApplicationBootstrap(): void {
    const run = () => {
      const withBlobs = this.rounds++ % BLOBS_EVERY === 0;
      this.sweep(Date.now(), { blobs: withBlobs }).catch((error) =>
        this.logger.error(`sweep failed: ${(error as Error).message}`),
      );
    };
    run();
    this.timer = setInterval(run, PROCESSES_EVERY_MS).unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  async sweep(now = Date.now(), options = { blobs: true }): Promise<SweepReport> {
    const deadDirs = await this.temp.sweep(now);
    await this.sweepOfficeProfiles();
    const deadReservations = (await this.usage.reservationTags()).filter((tag) => this.temp.isGone(tag));
    const report = {
      tempDirs: deadDirs.length,
      reservations: await this.usage.releaseStale(
        new Date(now - RESERVATION_STALE_MS),
        [...deadDirs, ...deadReservations],
        new Date(now - this.config.tusUploadExpiryMs - RESERVATION_STALE_MS),
      ),
      jobs: await this.jobs.handBackJobsOfGoneProcesses(),
      blobs: options.blobs ? await this.sweepBlobs(now) : 0,
    };
    if (report.tempDirs || report.blobs || report.reservations) this.logger.log(`swept ${JSON.stringify(report)}`);
    return report;
  }

  /** LibreOffice listeners of processes that are gone (they run detached) and their profiles. */
  private async sweepOfficeProfiles(): Promise<void> {
    const root = join(this.config.dataDir, 'libreoffice');
    for (const tag of await readdir(root).catch(() => [] as string[])) {
      if (tag === this.temp.tag || !this.temp.isGone(tag)) continue;
      killProcessesUsing([join(root, tag)]);
      await rm(join(root, tag), { recursive: true, force: true });
    }
  }

  private async sweepBlobs(now: number): Promise<number> {
    let removed = 0;
    let batch: BlobInfo[] = [];
    const flush = async () => {
      const referenced = await this.media.referencedBlobKeys(batch.map((b) => b.key));
      for (const blob of batch) {
        if (!referenced.has(blob.key)) {
          await this.store.delete(blob.key);
          removed++;
        }
      }
      batch = [];
    };
    for await (const blob of this.store.list(BLOB_PREFIX)) {
      if (now - blob.lastModified.getTime() < ORPHAN_GRACE_MS) continue;
      batch.push(blob);
      if (batch.length >= BATCH) await flush();
    }
    if (batch.length) await flush();
    return removed;
  }
}
