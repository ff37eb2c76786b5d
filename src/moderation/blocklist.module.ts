import { Module } from '@nestjs/common';
import { DbModule } from '../db/db.module.js';
import { PeersModule } from '../peers/peers.module.js';
import { BlocklistService } from './blocklist.service.js';
import { HashCheckService } from './hash-check.service.js';

/** The local blocklist (in memory on every replica) and hash-check; one instance shared by the upload pipeline and the HTTP edge. */
@Module({
  imports: [DbModule, PeersModule],
  providers: [BlocklistService, HashCheckService],
  exports: [BlocklistService, HashCheckService],
})
export class BlocklistModule {}
