import { Module } from '@nestjs/common';
import { MetricsModule } from '../observability/metrics.module.js';
import { JobQueue } from './job-queue.js';

@Module({ imports: [MetricsModule], providers: [JobQueue], exports: [JobQueue] })
export class JobsModule {}
