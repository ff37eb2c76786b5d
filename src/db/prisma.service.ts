import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { PrismaPg } from '@prisma/adapter-pg';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { PrismaClient } from '../../generated/prisma/client.js';

/** The one Prisma client of the process; only db/ repositories use it. */
@Injectable()
export class PrismaService extends PrismaClient implements OnModuleDestroy {
  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    if (!config.databaseUrl) throw new Error('databaseUrl is not set: the database must be started before the app');
    // A burst of commits (200 uploads at once on two replicas) queues for the 10 connections: a
    // transaction may wait 10 s for one (Prisma: 2 s) before the upload is answered 503 (P2028).
    super({
      adapter: new PrismaPg({ connectionString: config.databaseUrl, max: 10 }),
      transactionOptions: { maxWait: 10_000, timeout: 15_000 },
    });
  }

  async onModuleDestroy(): Promise<void> {
    await this.$disconnect();
  }
}

export function isNotFound(error: unknown): boolean {
  return (error as { code?: string })?.code === 'P2025';
}
