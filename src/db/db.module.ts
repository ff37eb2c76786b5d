import { Global, Module } from '@nestjs/common';
import { ChangeFeed } from './change-feed.js';
import { KeysRepository } from './keys.repository.js';
import { MediaRepository } from './media.repository.js';
import { PrismaService } from './prisma.service.js';
import { UsageRepository } from './usage.repository.js';

@Global()
@Module({
  providers: [PrismaService, ChangeFeed, MediaRepository, UsageRepository, KeysRepository],
  exports: [PrismaService, ChangeFeed, MediaRepository, UsageRepository, KeysRepository],
})
export class DbModule {}
