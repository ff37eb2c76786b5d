import { Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { DbModule } from '../db/db.module.js';
import { AccessPolicy } from './access-policy.js';
import { SignedUrls } from './signed-url.js';

/** Who may read what: the access policy and signed URLs, for the REST and gRPC edges alike. */
@Module({
  imports: [DbModule],
  providers: [
    AccessPolicy,
    {
      provide: SignedUrls,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => new SignedUrls(config.signedUrlKeys),
    },
  ],
  exports: [AccessPolicy, SignedUrls],
})
export class AccessModule {}
