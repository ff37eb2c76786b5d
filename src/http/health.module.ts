import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { DbModule } from '../db/db.module.js';
import { ModerationModule } from '../moderation/moderation.module.js';
import { StorageModule } from '../storage/storage.module.js';
import { PeersModule } from '../peers/peers.module.js';
import { MetricsModule } from '../observability/metrics.module.js';
import { BusinessGauges } from '../observability/business-gauges.js';
import { HealthController } from './health.controller.js';

/** Health and metrics routes, served in every role (the worker's too, for its probes). */
@Module({
  imports: [
    TerminusModule.forRoot({ logger: false }),
    DbModule,
    StorageModule,
    ModerationModule,
    MetricsModule,
    PeersModule,
  ],
  controllers: [HealthController],
  providers: [BusinessGauges],
})
export class HealthModule {}
