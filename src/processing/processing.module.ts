import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Inject, Module, type OnModuleDestroy } from '@nestjs/common';
import { PROCESS_TAG } from '../common/process-tag.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { ArchiveProcessor } from './archive/archive.processor.js';
import { AudioProcessor } from './audio/audio.processor.js';
import { DocumentProcessor } from './document/document.processor.js';
import { OfficeConverter } from './document/office.js';
import { ImageProcessor } from './image/image.processor.js';
import { MediaProcessor } from './media-processor.js';
import { PROCESSORS, type Processor } from './processor.js';
import { VideoProcessor } from './video/video.processor.js';

/** The registration of every media type's processor: a new type adds its line here. */
export function createProcessors(config: AppConfig, office: OfficeConverter): Processor[] {
  return [
    new ImageProcessor(config.processing.image),
    new VideoProcessor(config.processing),
    new AudioProcessor(config.processing),
    new DocumentProcessor(office),
    new ArchiveProcessor(),
  ];
}

/**
 * LibreOffice's profile is per instance (two listeners must not share one) and outside the
 * upload temp files. Named like a temp dir (`<process tag>_<id>`), so the sweeper removes
 * the profile and listener of a process that is gone.
 */
function createOfficeConverter(config: AppConfig): OfficeConverter {
  return new OfficeConverter(join(config.dataDir, 'libreoffice', `${PROCESS_TAG}_${randomUUID().slice(0, 8)}`));
}

@Module({
  providers: [
    { provide: OfficeConverter, inject: [APP_CONFIG], useFactory: createOfficeConverter },
    { provide: PROCESSORS, inject: [APP_CONFIG, OfficeConverter], useFactory: createProcessors },
    MediaProcessor,
  ],
  exports: [MediaProcessor],
})
export class ProcessingModule implements OnModuleDestroy {
  constructor(@Inject(OfficeConverter) private readonly office: OfficeConverter) {}

  onModuleDestroy(): void {
    this.office.close();
  }
}
