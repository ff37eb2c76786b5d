import { Inject, Injectable } from '@nestjs/common';
import { MEDIA_TYPES, type MediaType } from '../detection/media-types.js';
import {
  type FinishedVersion,
  PROCESSORS,
  type Processor,
  type ProcessInput,
  type ProcessResult,
} from './processor.js';

/** Each media type's one processor; refuses to start when a type has none or more than one. */
export function processorsByType(processors: readonly Processor[]): Map<MediaType, Processor> {
  const byType = new Map<MediaType, Processor>();
  for (const processor of processors) {
    if (byType.has(processor.type)) throw new Error(`two processors are registered for ${processor.type}`);
    byType.set(processor.type, processor);
  }
  const missing = MEDIA_TYPES.filter((type) => !byType.has(type));
  if (missing.length) throw new Error(`no processor is registered for ${missing.join(', ')}`);
  return byType;
}

/** Hands an upload to the processor of its verified type (docs/architecture.md: compress / transcode, previews). */
@Injectable()
export class MediaProcessor {
  private readonly processors: Map<MediaType, Processor>;

  constructor(@Inject(PROCESSORS) processors: Processor[]) {
    this.processors = processorsByType(processors);
  }

  process(input: ProcessInput): Promise<ProcessResult> {
    return this.processors.get(input.format.type)!.process(input);
  }

  /**
   * The background half of processing that was left for later (`finishLater`): the stored
   * version of the upload at `path`, and how the media's `metadata` (as committed,
   * describing the upload) is updated to describe that version.
   */
  async finish(
    type: MediaType,
    ext: string,
    path: string,
    workDir: string,
    signal: AbortSignal,
    metadata: Record<string, unknown>,
  ): Promise<FinishedVersion> {
    const processor = this.processors.get(type)!;
    if (!processor.finish) throw new Error(`nothing to finish later for ${type}`);
    return processor.finish({ ext, path, workDir, signal, metadata });
  }
}
