import { join } from 'node:path';
import { Inject, Module, type OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { AccessModule } from '../access/access.module.js';
import { PeersModule } from '../peers/peers.module.js';
import { CryptoModule } from '../crypto/crypto.module.js';
import { DbModule } from '../db/db.module.js';
import { JobsModule } from '../jobs/jobs.module.js';
import { ModerationModule } from '../moderation/moderation.module.js';
import { ProcessingModule } from '../processing/processing.module.js';
import { StorageModule } from '../storage/storage.module.js';
import { MetricsModule } from '../observability/metrics.module.js';
import { ProcessingJobs } from './processing-jobs.js';
import { EncryptedBlobs } from './encrypted-blobs.js';
import { LIMITER, type Limiter } from '../limits/limiter.js';
import { createLimiter } from '../limits/create-limiter.js';
import { DeletionService } from './deletion.service.js';
import { MediaService } from './media.service.js';
import { SweeperService } from './sweeper.service.js';
import { TempFiles } from './temp-files.js';
import { LeftoverCleanup } from './leftover-cleanup.js';
import { KeyRotation } from '../lifecycle/key-rotation.js';
import { ResumableUploads } from './resumable/resumable-uploads.js';
import { UploadService } from './upload.service.js';
import { UsageReports } from './usage-reports.js';
import { UserLimits } from './user-limits.js';

@Module({
  imports: [
    DbModule,
    AccessModule,
    PeersModule,
    CryptoModule,
    StorageModule,
    JobsModule,
    ModerationModule,
    ProcessingModule,
    MetricsModule,
  ],
  providers: [
    KeyRotation,
    LeftoverCleanup,
    ResumableUploads,
    {
      provide: TempFiles,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => new TempFiles(join(config.dataDir, 'tmp')),
    },
    { provide: LIMITER, inject: [APP_CONFIG], useFactory: createLimiter },
    EncryptedBlobs,
    UploadService,
    MediaService,
    DeletionService,
    UserLimits,
    UsageReports,
    SweeperService,
    ProcessingJobs,
  ],
  exports: [
    UploadService,
    ResumableUploads,
    MediaService,
    DeletionService,
    UsageReports,
    SweeperService,
    LIMITER,
    TempFiles,
    AccessModule,
  ],
})
export class MediaModule implements OnModuleDestroy {
  constructor(
    private readonly temp: TempFiles,
    @Inject(LIMITER) private readonly limiter: Limiter,
  ) {}

  async onModuleDestroy(): Promise<void> {
    this.temp.close();
    await this.limiter.close();
  }
}
