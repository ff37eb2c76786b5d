import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import type { Stage } from './metrics.js';
import { traced } from './tracing.js';

/**
 * What is known of the request (or job) being served, for its log line, its metrics and its
 * peers: opened by the HTTP edge, the gRPC server and the job runner, and found anywhere
 * below through AsyncLocalStorage — no parameter threaded through the pipeline.
 */
export interface Observation {
  requestId: string;
  userId?: string;
  mediaId?: string;
  /** The upload's type, once its bytes named it. */
  mediaType?: string;
  /** Seconds spent per pipeline stage (summed when a stage runs more than once); observed once, when it ends. */
  stages: Partial<Record<Stage, number>>;
}

const current = new AsyncLocalStorage<Observation>();

export function observing<T>(observation: Observation, fn: () => T): T {
  return current.run(observation, fn);
}

export function observation(): Observation | undefined {
  return current.getStore();
}

/** Runs one stage of the upload pipeline: timed into the request's stages (its log line and histograms), and a span. */
export async function stage<T>(name: Stage, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await traced(`upload.${name}`, () => fn());
  } finally {
    addStageTime(name, (performance.now() - started) / 1000);
  }
}

/** Time spent in a stage that ran inside another (sealing, during the receiving pass), without a span of its own. */
export function addStageTime(name: Stage, seconds: number): void {
  const seen = current.getStore();
  if (!seen) return;
  seen.stages[name] = (seen.stages[name] ?? 0) + seconds;
}

/** The stage durations in milliseconds, for a log line. */
export function stagesInMs(observed: Observation): Partial<Record<Stage, number>> | undefined {
  const entries = Object.entries(observed.stages);
  if (entries.length === 0) return undefined;
  return Object.fromEntries(entries.map(([name, seconds]) => [name, Math.round(seconds * 10_000) / 10]));
}

/** Records who the caller is, for the request's log line and span. */
export function noteUser(userId: string): void {
  const seen = current.getStore();
  if (seen) seen.userId = userId;
}

/** Records which media the request is about (and its type, once known). */
export function noteMedia(media: { id?: string; type?: string }): void {
  const seen = current.getStore();
  if (!seen) return;
  if (media.id) seen.mediaId = media.id;
  if (media.type) seen.mediaType = media.type;
}
