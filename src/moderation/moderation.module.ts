import { Global, Module } from '@nestjs/common';
import { AntivirusService } from './antivirus.service.js';
import { ScreeningService } from './screening.service.js';

/** Content safety of uploads: antivirus, blocklist and moderation-service screening, incidents. */
@Global()
@Module({
  providers: [AntivirusService, ScreeningService],
  exports: [AntivirusService, ScreeningService],
})
export class ModerationModule {}
