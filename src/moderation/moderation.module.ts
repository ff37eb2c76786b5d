import { Module } from '@nestjs/common';
import { DbModule } from '../db/db.module.js';
import { PeersModule } from '../peers/peers.module.js';
import { AntivirusService } from './antivirus.service.js';
import { BlocklistModule } from './blocklist.module.js';
import { ScreeningService } from './screening.service.js';

/** Content safety of uploads: antivirus, blocklist and moderation-service screening, incidents. */
@Module({
  imports: [DbModule, BlocklistModule, PeersModule],
  providers: [AntivirusService, ScreeningService],
  exports: [AntivirusService, ScreeningService],
})
export class ModerationModule {}
