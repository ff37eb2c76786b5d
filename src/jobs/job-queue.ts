import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import PgBoss from 'pg-boss';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import type { SqlExecutor } from '../db/sql-executor.js';


/** Produces the stored version of a media committed `processing` (transcoding that did not fit the budget). */
export const FINISH_PROCESSING = 'finish-processing';
export interface FinishProcessingJob {
  mediaId: string;
}

/** Renders the previews of a media whose previews could not be rendered at upload. */
export const RENDER_PREVIEWS = 'render-previews';
export interface RenderPreviewsJob {
  mediaId: string;
}

const QUEUES = [FINISH_PROCESSING, RENDER_PREVIEWS];

export interface JobAttempt<T> {
  data: T;
  /** This is the last try: a failure now is final. */
  lastTry: boolean;
}

/**
 * The durable queue (pg-boss on the service's own PostgreSQL: nothing else to run, jobs
 * enqueued in the same transaction as the media row they belong to, and they survive any
 * restart). A job whose worker died is retried once it expires; failures are retried with
 * backoff.
 */
@Injectable()
export class JobQueue implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(JobQueue.name);
  private boss?: PgBoss;
  private started!: Promise<PgBoss>;
  private stopping = false;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  /** Starts in the background: a database that is down at boot must not keep the service from answering 503. */
  onModuleInit(): void {
    this.started = this.startWhenPossible();
    this.started.catch(() => {});
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    await this.boss?.stop({ graceful: true, close: true, timeout: 5000 }).catch(() => {});
  }

  /** Enqueues on `db` (a transaction), so the job exists exactly when the transaction commits. */
  async send<T extends object>(name: string, data: T, db: SqlExecutor): Promise<void> {
    await (await this.started).send(name, data, { db: db as PgBoss.Db });
  }

  /** Runs `handler` for jobs of `name`, `concurrency` at a time; a throw is retried unless it was the last try. */
  async work<T extends object>(name: string, concurrency: number, handler: (attempt: JobAttempt<T>) => Promise<void>): Promise<void> {
    const boss = await this.started;
    for (let i = 0; i < concurrency; i++) {
      await boss.work<T>(name, { batchSize: 1, includeMetadata: true, pollingIntervalSeconds: this.config.jobs.pollSeconds }, async ([job]) => {
        await handler({ data: job.data, lastTry: job.retryCount >= job.retryLimit });
      });
    }
  }

  private async startWhenPossible(): Promise<PgBoss> {
    for (;;) {
      const boss = this.create();
      try {
        await boss.start();
        const { retryLimit, expireSeconds } = this.config.jobs;
        for (const name of QUEUES) {
          const queue = { name, retryLimit, retryDelay: 10, retryBackoff: true, expireInSeconds: expireSeconds };
          // Two processes starting at once may both create it; the loser updates the same settings.
          await boss.createQueue(name, queue).catch(() => boss.updateQueue(name, queue));
        }
        this.boss = boss;
        if (this.stopping) await boss.stop({ close: true, graceful: false });
        return boss;
      } catch (error) {
        await boss.stop({ close: true, graceful: false }).catch(() => {});
        if (this.stopping) throw error;
        this.logger.warn(`job queue not started (${(error as Error).message}); retrying in ${RETRY_START_MS / 1000} s`);
        await new Promise((resolve) => setTimeout(resolve, RETRY_START_MS).unref());
        if (this.stopping) throw error;
      }
    }
  }

  private create(): PgBoss {
    const boss = new PgBoss({
      connectionString: this.config.databaseUrl,
      schema: 'pgboss',
      max: 4,
      application_name: 'media-service jobs',
      maintenanceIntervalSeconds: this.config.jobs.maintenanceSeconds,
    });
    boss.on('error', (error) => this.logger.warn({ err: error }, 'job queue error'));
    return boss;
  }
}

const RETRY_START_MS = 5000;
