import { type DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { AppConfig } from './config/app-config.js';
import { ConfigModule } from './config/config.module.js';
import { HttpModule } from './http/http.module.js';
import { MediaModule } from './media/media.module.js';
import { loggingOptions } from './observability/logging.js';
import { HealthModule } from './http/health.module.js';

@Module({})
export class AppModule {
  /** The whole service for one validated config. A `worker` serves only health and metrics over HTTP. */
  static register(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggerModule.forRoot(loggingOptions(config.logLevel, config.logFile)),
        HealthModule,
        config.role === 'worker' ? MediaModule : HttpModule,
      ],
    };
  }
}
