import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import PgBoss from 'pg-boss';
import { isProcessGone, PROCESS_TAG } from '../common/process-tag.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { Metrics } from '../observability/metrics.js';
import { type Observation, observation, observing, stagesInMs } from '../observability/observation.js';
import { failed, SpanKind, startServerSpan, traceHeaders } from '../observability/tracing.js';
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

/** Removes the blobs of a deleted media from storage (its keys are already destroyed). */
export const DELETE_BLOBS = 'delete-blobs';
export interface DeleteBlobsJob {
  blobKeys: string[];
}

const QUEUES = [FINISH_PROCESSING, RENDER_PREVIEWS, DELETE_BLOBS];

/** Where a job's data carries the request it came from (its id, its W3C trace context). */
const CARRIED = '_carried';
interface CarriedContext {
  requestId?: string;
  traceparent?: string;
  tracestate?: string;
}

export interface JobAttempt<T> {
  data: T;
  /** This is the last try: a failure now is final. */
  lastTry: boolean;
}

/**
 * The durable queue (pg-boss on the service's own PostgreSQL: nothing else to run, jobs
 * enqueued in the same transaction as the media row they belong to, and they survive any
 * restart). Failures are retried with backoff. Each running job is claimed under this
 * process's tag (table job_claims): a job whose process is known to be gone is handed back
 * to the queue by the next sweep (handBackJobsOfGoneProcesses); one of a process that
 * cannot be checked (another host) is retried once it expires.
 */
@Injectable()
export class JobQueue implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(JobQueue.name);
  private boss?: PgBoss;
  private started!: Promise<PgBoss>;
  private stopping = false;
  /** Cuts short the wait between two attempts to start when the module is destroyed. */
  private readonly stopRetrying = new AbortController();
  /** Workers were started here (see onModuleDestroy). */
  private working = false;
  /** This process's workers by queue, woken when a job is committed here (else they find it at their next poll). */
  private readonly workerIds = new Map<string, string[]>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: Metrics,
  ) {
    metrics.gaugesFrom('media_queue_depth', 'Jobs waiting for a worker, by queue', 'queue', () => this.depths());
  }

  /** Starts in the background: a database that is down at boot must not keep the service from answering 503. */
  onModuleInit(): void {
    this.started = this.startWhenPossible();
    this.started.catch(() => {});
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    this.stopRetrying.abort();
    // A start still under way is waited for, and the queue it started stopped here: otherwise
    // it would finish after the module is gone and run its timers with nothing to stop them.
    const boss = await this.started.catch(() => undefined);
    await boss?.stop({ graceful: true, close: true, timeout: 5000 }).catch(() => {});
    // pg-boss 10 resolves stop() while its workers may still be finishing a poll, and checks
    // on them once a second after (manager.offWork): wait that out, so nothing of the queue
    // runs once the module is gone (a test's environment is torn down right after).
    if (this.working) await new Promise((resolve) => setTimeout(resolve, 1100));
  }

  /**
   * Enqueues on `db` (a transaction), so the job exists exactly when the transaction commits.
   * The job carries the request's id and trace context, which its run continues.
   */
  async send<T extends object>(name: string, data: T, db: SqlExecutor): Promise<void> {
    const carried: CarriedContext = { requestId: observation()?.requestId, ...traceHeaders() };
    await (await this.started).send(name, { ...data, [CARRIED]: carried }, { db: db as PgBoss.Db });
  }

  /** Runs `handler` for jobs of `name`, `concurrency` at a time; a throw is retried unless it was the last try. */
  async work<T extends object>(
    name: string,
    concurrency: number,
    handler: (attempt: JobAttempt<T>) => Promise<void>,
  ): Promise<void> {
    const boss = await this.started;
    if (this.stopping) return; // the queue is stopped or about to be: no new workers
    this.working = true;
    for (let i = 0; i < concurrency; i++) {
      const id = await boss.work<T>(
        name,
        { batchSize: 1, includeMetadata: true, pollingIntervalSeconds: this.config.jobs.pollSeconds },
        async ([job]) => {
          const db = boss.getDb();
          await db.executeSql(
            'INSERT INTO job_claims (job_id, queue, process_tag) VALUES ($1, $2, $3) ON CONFLICT (job_id) DO UPDATE SET process_tag = $3, claimed_at = now()',
            [job.id, name, PROCESS_TAG],
          );
          try {
            await this.run(name, job, () => handler({ data: job.data, lastTry: job.retryCount >= job.retryLimit }));
          } finally {
            await db.executeSql('DELETE FROM job_claims WHERE job_id = $1', [job.id]).catch(() => {});
          }
        },
      );
      this.workerIds.set(name, [...(this.workerIds.get(name) ?? []), id]);
    }
  }

  /**
   * Wakes this process's workers of `name` to fetch now: call it once the transaction that
   * sent a job committed (a worker woken before would find nothing and sleep a whole poll).
   * Workers of other processes find the job at their next poll (JOB_POLL_SECONDS).
   */
  wake(name: string): void {
    const ids = this.workerIds.get(name);
    if (!ids) return;
    void this.started.then((boss) => ids.forEach((id) => boss.notifyWorker(id))).catch(() => {});
  }

  /**
   * One run of a job, observed: in the request's trace and under its id (carried by `send`),
   * timed into media_job_duration_seconds and media_job_wait_seconds, one log line.
   */
  private async run(name: string, job: PgBoss.JobWithMetadata<object>, handler: () => Promise<void>): Promise<void> {
    this.metrics.jobWait.observe({ queue: name }, Math.max(0, Date.now() - job.createdOn.getTime()) / 1000);
    const carried = ((job.data as Record<string, unknown>)[CARRIED] ?? {}) as CarriedContext;
    const observed: Observation = { requestId: carried.requestId ?? job.id, stages: {} };
    const mediaId = (job.data as { mediaId?: string }).mediaId;
    const span = startServerSpan(
      `job ${name}`,
      carried,
      { 'messaging.operation': 'process', 'media.job_id': job.id },
      SpanKind.CONSUMER,
    );
    const started = performance.now();
    let outcome = 'failed';
    try {
      const work = () => observing(observed, handler);
      await (span ? span.run(work) : work());
      outcome = 'completed';
    } catch (error) {
      if (span) failed(span.span, error);
      throw error;
    } finally {
      const seconds = (performance.now() - started) / 1000;
      this.metrics.jobDuration.observe({ queue: name, outcome }, seconds);
      this.metrics.observeStages(observed.stages, observed.mediaType);
      span?.span.end();
      const line = {
        job: name,
        jobId: job.id,
        requestId: observed.requestId,
        mediaId,
        outcome,
        ms: Math.round(seconds * 1000),
        stagesMs: stagesInMs(observed),
      };
      this.logger.log(line, 'job');
    }
  }

  /** Jobs waiting per queue (created or retrying), for media_queue_depth; none before the queue started. */
  private async depths(): Promise<Record<string, number>> {
    const boss = this.boss;
    if (!boss) return {};
    const sizes = await Promise.all(QUEUES.map((name) => boss.getQueueSize(name)));
    return Object.fromEntries(QUEUES.map((name, i) => [name, sizes[i]]));
  }

  /**
   * Fails the running jobs of processes known to be gone (killed mid-job), so they are
   * retried after their retry delay rather than after JOB_EXPIRE_SECONDS. Returns how many.
   */
  async handBackJobsOfGoneProcesses(): Promise<number> {
    const boss = this.boss;
    if (!boss) return 0; // not started yet (database down): the next sweep will look
    const db = boss.getDb();
    const claims = (await db.executeSql('SELECT job_id, queue, process_tag FROM job_claims', [])) as {
      rows: { job_id: string; queue: string; process_tag: string }[];
    };
    const gone = claims.rows.filter((claim) => isProcessGone(claim.process_tag));
    for (const claim of gone) {
      await boss.fail(claim.queue, claim.job_id, { message: `its process (${claim.process_tag}) is gone` });
      await db.executeSql('DELETE FROM job_claims WHERE job_id = $1', [claim.job_id]);
    }
    return gone.length;
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
        // At start-up, most often after a crash: what the dead process was running goes back now.
        if (!this.stopping)
          await this.handBackJobsOfGoneProcesses().catch((error: unknown) =>
            this.logger.warn(`jobs of gone processes not handed back: ${(error as Error).message}`),
          );
        return boss;
      } catch (error) {
        await boss.stop({ close: true, graceful: false }).catch(() => {});
        if (this.stopping) throw error;
        this.logger.warn(`job queue not started (${(error as Error).message}); retrying in ${RETRY_START_MS / 1000} s`);
        await sleep(RETRY_START_MS, undefined, { signal: this.stopRetrying.signal }).catch(() => {});
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
