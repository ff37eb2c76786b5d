import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { DbModule } from '../db/db.module.js';
import { ModerationModule } from '../moderation/moderation.module.js';
import { StorageModule } from '../storage/storage.module.js';
import { MetricsModule } from './metrics.module.js';
import { ObservabilityController } from './observability.controller.js';

/** Health and metrics routes, served in every role. */
@Module({
  imports: [TerminusModule.forRoot({ logger: false }), DbModule, StorageModule, ModerationModule, MetricsModule],
  controllers: [ObservabilityController],
})
export class ObservabilityModule {}
