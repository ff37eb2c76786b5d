import { Module } from '@nestjs/common';
import { BlocklistRepository } from './blocklist.repository.js';
import { ChangeFeed } from './change-feed.js';
import { GrantsRepository } from './grants.repository.js';
import { IncidentsRepository } from './incidents.repository.js';
import { KeysRepository } from './keys.repository.js';
import { MediaRepository } from './media.repository.js';
import { PrismaService } from './prisma.service.js';
import { UsageOutboxRepository } from './usage-outbox.repository.js';
import { UsageRepository } from './usage.repository.js';

const REPOSITORIES = [
  ChangeFeed,
  MediaRepository,
  UsageRepository,
  KeysRepository,
  BlocklistRepository,
  IncidentsRepository,
  GrantsRepository,
  UsageOutboxRepository,
];

@Module({
  providers: [PrismaService, ...REPOSITORIES],
  exports: [PrismaService, ...REPOSITORIES],
})
export class DbModule {}
