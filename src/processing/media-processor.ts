import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { AudioProcessor } from './audio/audio.processor.js';
import { DocumentProcessor } from './document/document.processor.js';
import { ImageProcessor } from './image/image.processor.js';
import type { ProcessInput, ProcessResult } from './processor.js';

/**
 * Picks the processor of the verified type. Video, DOC/DOCX and archives have no
 * processor yet and are stored as uploaded, without previews (the rest of the processing
 * issue).
 */
@Injectable()
export class MediaProcessor {
  private readonly image: ImageProcessor;
  private readonly document = new DocumentProcessor();
  private readonly audio = new AudioProcessor();

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.image = new ImageProcessor(config.processing.image);
  }

  process(input: ProcessInput): Promise<ProcessResult> {
    if (input.format.type === 'image') return this.image.process(input);
    if (input.format.type === 'document') return this.document.process(input);
    if (input.format.type === 'audio') return this.audio.process(input);
    return Promise.resolve({ previews: [], metadata: {} });
  }
}
