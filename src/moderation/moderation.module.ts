import { Global, Module } from '@nestjs/common';
import { AntivirusService } from './antivirus.service.js';
import { ScreeningService } from './screening.service.js';
import { ModerationPeer } from '../peers/moderation-peer.js';

/** Content safety of uploads: antivirus, blocklist and moderation-service screening, incidents. */
@Global()
@Module({
  providers: [AntivirusService, ScreeningService, ModerationPeer],
  exports: [AntivirusService, ScreeningService, ModerationPeer],
})
export class ModerationModule {}
