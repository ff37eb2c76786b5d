import type { Readable } from 'node:stream';
import type { DetectedFormat, MediaType } from '../detection/media-types.js';
import type { RandomAccess } from '../detection/random-access.js';

/** Bounding-box sizes of the previews every visual type gets (docs/api.md). */
export const PREVIEW_SIZES = [64, 256, 512] as const;
export type PreviewSize = (typeof PREVIEW_SIZES)[number];

/** What a processor is given: the verified format and the upload's plaintext, read from the sealed temp file. */
export interface ProcessInput {
  format: DetectedFormat;
  size: number;
  /** A new stream of the whole plaintext each call. */
  open(): Promise<Readable>;
  /** Positioned reads of the plaintext, for parsers that seek (a ZIP directory). */
  file: RandomAccess;
  /** A private directory of this request (0700), removed when the request ends, for tools that need a path. */
  workDir: string;
  signal: AbortSignal;
  /** Only previews and metadata are wanted (the stored version exists): skip producing one. */
  previewsOnly?: boolean;
}

/**
 * The stored version a processor made: a file in the request's work directory, never a
 * Buffer (a transcoded video is as large as its upload), hashed, sealed and stored by
 * streaming it.
 */
export interface Rendition {
  path: string;
  mime: string;
  ext: string;
}

export interface PreviewImage {
  size: PreviewSize;
  width: number;
  height: number;
  data: Buffer;
}

/**
 * What processing decided: a new stored version (or none: keep the upload), previews and
 * metadata. `finishLater`: producing the stored version would take longer than the
 * processing budget, so a worker does it (see Processor.finish); the media is
 * `processing` until then.
 */
export interface ProcessResult {
  stored?: Rendition;
  finishLater?: boolean;
  previews: PreviewImage[];
  /** The previews this type has could not be rendered now: a worker renders them later. */
  previewsFailed?: boolean;
  metadata: Record<string, unknown>;
  /**
   * Screening's perceptual hashes, taken while processing (undefined with `previewsOnly`): an
   * image's one, from the decode that made its previews (no second decode); a video's
   * keyframes, from the upload, beside its frame and stored version.
   */
  phashes?: bigint[];
}

/** The stored version a background job produced: a file in its work directory. */
export interface FinishedFile {
  path: string;
  mime: string;
}

/** The stored version a background job made. */
export interface FinishedVersion extends FinishedFile {
  /**
   * The media's metadata updated to describe this version, from a probe of its file: the job
   * runs it beside the version's sealing (both only read the file).
   */
  describe(signal: AbortSignal): Promise<Record<string, unknown>>;
}

/** What a background job gives `finish`: the upload as a file of verified type `ext`. */
export interface FinishInput {
  ext: string;
  path: string;
  /** The job's private directory, removed when the job ends. */
  workDir: string;
  signal: AbortSignal;
  /** The media's metadata as committed (describing the upload). */
  metadata: Record<string, unknown>;
}

/**
 * The processor of one media type (docs/architecture.md: compress / transcode, previews), registered
 * in processing.module.ts. `finish` is the background half of a `process` that answered
 * `finishLater`; a type that never does has none.
 */
export interface Processor {
  readonly type: MediaType;
  process(input: ProcessInput): Promise<ProcessResult>;
  finish?(input: FinishInput): Promise<FinishedVersion>;
}

/** Injection token of every registered Processor (processing.module.ts). */
export const PROCESSORS = Symbol('PROCESSORS');
