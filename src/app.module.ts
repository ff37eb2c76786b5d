import { type DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { APP_CONFIG, type AppConfig } from './config/app-config.js';
import { CryptoModule } from './crypto/crypto.module.js';
import { DbModule } from './db/db.module.js';
import { HttpModule } from './http/http.module.js';
import { MediaModule } from './media/media.module.js';
import { BlocklistModule } from './moderation/blocklist.module.js';
import { loggingOptions } from './observability/logging.js';
import { ObservabilityModule } from './observability/observability.module.js';
import { StorageModule } from './storage/storage.module.js';

@Module({})
export class AppModule {
  /** The whole service for one validated config. A `worker` serves only health and metrics over HTTP. */
  static register(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      global: true,
      imports: [
        LoggerModule.forRoot(loggingOptions(config.logLevel)),
        DbModule,
        CryptoModule,
        StorageModule,
        ObservabilityModule,
        BlocklistModule,
        config.role === 'worker' ? MediaModule : HttpModule,
      ],
      providers: [{ provide: APP_CONFIG, useValue: config }],
      exports: [APP_CONFIG],
    };
  }
}
