import { Global, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { Metrics } from './metrics.js';
import { ObservabilityController } from './observability.controller.js';

@Global()
@Module({
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [ObservabilityController],
  providers: [Metrics],
  exports: [Metrics],
})
export class ObservabilityModule {}
