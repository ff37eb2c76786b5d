import { join } from 'node:path';
import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import type { MediaType } from '../detection/media-types.js';
import { TempFiles } from '../media/temp-files.js';
import { ArchiveProcessor } from './archive/archive.processor.js';
import { AudioProcessor } from './audio/audio.processor.js';
import { DocumentProcessor } from './document/document.processor.js';
import { OfficeConverter } from './document/office.js';
import { ImageProcessor } from './image/image.processor.js';
import { probe } from './av/ffmpeg.js';
import { withStoredAudio } from './av/stored-metadata.js';
import type { ProcessInput, ProcessResult } from './processor.js';
import { type FinishedVersion, VideoProcessor } from './video/video.processor.js';

interface Processor {
  process(input: ProcessInput): Promise<ProcessResult>;
}

/** Picks the processor of the verified type (DESIGN §2: compress / transcode, previews). */
@Injectable()
export class MediaProcessor implements OnModuleDestroy {
  private readonly processors: Record<MediaType, Processor>;
  private readonly office: OfficeConverter;
  private readonly video: VideoProcessor;
  private readonly audio: AudioProcessor;

  constructor(@Inject(APP_CONFIG) config: AppConfig, temp: TempFiles) {
    // LibreOffice's profile is per process (two instances must not share one) and outside the upload temp files.
    this.office = new OfficeConverter(join(config.dataDir, 'libreoffice', temp.tag));
    this.video = new VideoProcessor(config.processing);
    this.audio = new AudioProcessor(config.processing);
    this.processors = {
      image: new ImageProcessor(config.processing.image),
      video: this.video,
      audio: this.audio,
      document: new DocumentProcessor(this.office),
      archive: new ArchiveProcessor(),
    };
  }

  process(input: ProcessInput): Promise<ProcessResult> {
    return this.processors[input.format.type].process(input);
  }

  /**
   * The background half of processing that was left for later (`finishLater`): the stored
   * version of the upload at `path`, and the media's `metadata` (as committed, describing
   * the upload) updated to describe that version.
   */
  async finish(type: MediaType, ext: string, path: string, workDir: string, signal: AbortSignal, metadata: Record<string, unknown>): Promise<FinishedVersion> {
    if (type === 'video') return this.video.finish(ext, path, workDir, signal, metadata);
    if (type === 'audio') {
      const file = await this.audio.toMp3(ext, path, workDir, signal);
      return { ...file, metadata: withStoredAudio(metadata, await probe('mp3', file.path, signal)) };
    }
    throw new Error(`nothing to finish later for ${type}`);
  }

  onModuleDestroy(): void {
    this.office.close();
  }
}
