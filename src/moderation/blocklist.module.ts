import { Global, Module } from '@nestjs/common';
import { BlocklistRepository } from '../db/blocklist.repository.js';
import { IncidentsRepository } from '../db/incidents.repository.js';
import { BlocklistService } from './blocklist.service.js';
import { HashCheckService } from './hash-check.service.js';

/** The local blocklist (in memory on every replica), hash-check, and the incident log; global so the upload pipeline and the HTTP edge share one index. */
@Global()
@Module({
  providers: [BlocklistRepository, IncidentsRepository, BlocklistService, HashCheckService],
  exports: [BlocklistService, HashCheckService, IncidentsRepository],
})
export class BlocklistModule {}
