import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The upload pipeline's stages, in order (docs/operations.md, "Following one upload"). */
export const STAGES = [
  'receive',
  'detect',
  'scan',
  'hash',
  'moderate',
  'process',
  'seal',
  'store',
  'preview',
  'commit',
] as const;
export type Stage = (typeof STAGES)[number];

const BREAKER_VALUES = { closed: 0, 'half-open': 1, open: 2 } as const;
const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const LONG_SECONDS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

/**
 * The process's Prometheus metrics, in a registry of their own (one per app instance). Every
 * label takes a bounded set of values (media types, formats, error codes, stages, queues,
 * peers): never a user, a media id or a raw URL.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly httpDuration = new Histogram({
    name: 'media_http_request_duration_seconds',
    help: 'HTTP request duration by method, route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: SECONDS,
    registers: [this.registry],
  });
  readonly grpcDuration = new Histogram({
    name: 'media_grpc_request_duration_seconds',
    help: 'gRPC call duration by method and status code',
    labelNames: ['method', 'code'],
    buckets: SECONDS,
    registers: [this.registry],
  });
  readonly stageDuration = new Histogram({
    name: 'media_upload_stage_duration_seconds',
    help: 'Time an upload spent in each pipeline stage',
    labelNames: ['stage'],
    buckets: SECONDS,
    registers: [this.registry],
  });
  readonly uploads = new Counter({
    name: 'media_uploads_total',
    help: 'Finished uploads by media type and outcome (created, duplicate, or the error code)',
    labelNames: ['media_type', 'outcome'],
    registers: [this.registry],
  });
  readonly uploadBytes = new Counter({
    name: 'media_upload_bytes_total',
    help: 'Bytes of accepted uploads (as uploaded) by media type',
    labelNames: ['media_type'],
    registers: [this.registry],
  });
  readonly compressionRatio = new Histogram({
    name: 'media_compression_ratio',
    help: 'Stored size over uploaded size, by stored format',
    labelNames: ['format'],
    buckets: [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.1, 1.5, 2],
    registers: [this.registry],
  });
  readonly rejections = new Counter({
    name: 'media_upload_rejections_total',
    help: 'Uploads refused, by reason (blocklist, moderation, malware, corrupt, type, size, quota, rate)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly previewDuration = new Histogram({
    name: 'media_preview_duration_seconds',
    help: 'Time to render the previews of one media, by media type',
    labelNames: ['media_type'],
    buckets: SECONDS,
    registers: [this.registry],
  });
  readonly processingDuration = new Histogram({
    name: 'media_processing_duration_seconds',
    help: "A worker's finishing of one media (e.g. a video transcode), by media type",
    labelNames: ['media_type'],
    buckets: LONG_SECONDS,
    registers: [this.registry],
  });
  readonly jobDuration = new Histogram({
    name: 'media_job_duration_seconds',
    help: 'Background job run time by queue and outcome (completed, failed)',
    labelNames: ['queue', 'outcome'],
    buckets: LONG_SECONDS,
    registers: [this.registry],
  });
  readonly jobWait = new Histogram({
    name: 'media_job_wait_seconds',
    help: 'Time from enqueueing a job to a worker starting it, by queue',
    labelNames: ['queue'],
    buckets: LONG_SECONDS,
    registers: [this.registry],
  });
  readonly peerDuration = new Histogram({
    name: 'media_peer_request_duration_seconds',
    help: 'Calls to peer services (auth, user, moderation) by outcome (ok, rejected, error, timeout)',
    labelNames: ['peer', 'outcome'],
    buckets: SECONDS,
    registers: [this.registry],
  });
  private readonly breakers = new Map<string, () => 'closed' | 'half-open' | 'open'>();
  readonly peerBreaker = new Gauge({
    name: 'media_peer_breaker_state',
    help: "A peer's circuit breaker: 0 closed, 1 half-open, 2 open",
    labelNames: ['peer'],
    registers: [this.registry],
    collect: () => {
      for (const [peer, state] of this.breakers) this.peerBreaker.set({ peer }, BREAKER_VALUES[state()]);
    },
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'media_' });
  }

  /**
   * A request's or a job's time per stage, once each when it ends (a stage that ran twice is
   * one sum), and its preview time by media type for the business dashboard.
   */
  observeStages(stages: Partial<Record<Stage, number>>, mediaType = 'unknown'): void {
    for (const [stage, seconds] of Object.entries(stages)) this.stageDuration.observe({ stage }, seconds);
    if (stages.preview !== undefined) this.previewDuration.observe({ media_type: mediaType }, stages.preview);
  }

  /** What a peer client is told of each call. */
  peerObserver(peer: string) {
    return (outcome: string, seconds: number): void => this.peerDuration.observe({ peer, outcome }, seconds);
  }

  /** A peer's breaker, read at every scrape. */
  watchBreaker(peer: string, state: () => 'closed' | 'half-open' | 'open'): void {
    this.breakers.set(peer, state);
  }

  /**
   * A gauge whose value is read at scrape time (a database count, a file system's free bytes).
   * A read that fails leaves the gauge without a sample rather than failing the scrape.
   */
  gaugeFrom(name: string, help: string, read: () => Promise<number | undefined>): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      async collect() {
        this.reset();
        const value = await read().catch(() => undefined);
        if (value !== undefined) this.set(value);
      },
    });
  }

  /** Same, with one sample per label value (`read` returns label value → number). */
  gaugesFrom(name: string, help: string, label: string, read: () => Promise<Record<string, number>>): void {
    new Gauge({
      name,
      help,
      labelNames: [label],
      registers: [this.registry],
      async collect() {
        this.reset();
        const values = await read().catch(() => ({}));
        for (const [key, value] of Object.entries(values)) this.set({ [label]: key }, value);
      },
    });
  }
}
