import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import type { MediaType } from '../detection/media-types.js';
import { ArchiveProcessor } from './archive/archive.processor.js';
import { AudioProcessor } from './audio/audio.processor.js';
import { DocumentProcessor } from './document/document.processor.js';
import { ImageProcessor } from './image/image.processor.js';
import type { ProcessInput, ProcessResult } from './processor.js';
import { VideoProcessor } from './video/video.processor.js';

interface Processor {
  process(input: ProcessInput): Promise<ProcessResult>;
}

/** Picks the processor of the verified type (DESIGN §2: compress / transcode, previews). */
@Injectable()
export class MediaProcessor {
  private readonly processors: Record<MediaType, Processor>;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.processors = {
      image: new ImageProcessor(config.processing.image),
      video: new VideoProcessor(),
      audio: new AudioProcessor(),
      document: new DocumentProcessor(),
      archive: new ArchiveProcessor(),
    };
  }

  process(input: ProcessInput): Promise<ProcessResult> {
    return this.processors[input.format.type].process(input);
  }
}
