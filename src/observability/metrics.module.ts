import { Module } from '@nestjs/common';
import { Metrics } from './metrics.js';

/** The process's one Prometheus registry. */
@Module({ providers: [Metrics], exports: [Metrics] })
export class MetricsModule {}
