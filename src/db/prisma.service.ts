import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { PrismaClient } from '../../generated/prisma/client.js';

/**
 * The one Prisma client of the process; only db/ repositories use it. Its connections are a
 * pool of ours, which `sql` also uses for the statements every upload runs (reserve, commit):
 * a profile of small uploads charged Prisma's own layer around those two raw statements
 * with about 1 ms per upload.
 */
@Injectable()
export class PrismaService extends PrismaClient implements OnModuleDestroy {
  private readonly pool: pg.Pool;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    if (!config.databaseUrl) throw new Error('databaseUrl is not set: the database must be started before the app');
    const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 10 });
    // A burst of commits (200 uploads at once on two replicas) queues for the 10 connections: a
    // transaction may wait 10 s for one (Prisma: 2 s) before the upload is answered 503 (P2028).
    super({
      adapter: new PrismaPg(pool),
      transactionOptions: { maxWait: 10_000, timeout: 15_000 },
    });
    this.pool = pool;
    // An idle connection that breaks (the database restarted) is dropped by the pool and the
    // next statement opens another; unheard, the pool's 'error' would end the process.
    pool.on('error', () => {});
  }

  /**
   * One parameterised statement on the pool, outside any transaction: its rows as node-postgres
   * parses them (timestamptz as Date, bigint as string). Errors are node-postgres' own.
   */
  async sql<Row>(text: string, values: unknown[]): Promise<Row[]> {
    return (await this.pool.query(text, values)).rows as Row[];
  }

  async onModuleDestroy(): Promise<void> {
    await this.$disconnect();
    await this.pool.end();
  }
}

export function isNotFound(error: unknown): boolean {
  return (error as { code?: string })?.code === 'P2025';
}
