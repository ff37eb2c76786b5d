import { statfs } from 'node:fs/promises';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { PrismaService } from '../db/prisma.service.js';
import { Metrics } from './metrics.js';

/**
 * The gauges read at scrape time (docs/operations.md, "Metrics"): storage used by all users
 * together (never per user), DATA_DIR's file system (where temp files, and with the local
 * driver the blobs, live), and the usage outbox still to deliver to user-service.
 */
@Injectable()
export class BusinessGauges {
  constructor(@Inject(APP_CONFIG) config: AppConfig, prisma: PrismaService, metrics: Metrics) {
    metrics.gaugeFrom('media_storage_used_bytes', 'Bytes stored for all users (their usage counters)', async () => {
      const [row] = await prisma.$queryRaw<{ total: bigint | null }[]>`SELECT sum(used_bytes) AS total FROM usage`;
      return Number(row?.total ?? 0);
    });
    const volume = () => statfs(config.dataDir);
    metrics.gaugeFrom('media_storage_volume_size_bytes', "Size of DATA_DIR's file system", async () => {
      const { blocks, bsize } = await volume();
      return blocks * bsize;
    });
    metrics.gaugeFrom(
      'media_storage_volume_free_bytes',
      "Bytes free for the service on DATA_DIR's file system",
      async () => {
        const { bavail, bsize } = await volume();
        return bavail * bsize;
      },
    );
    metrics.gaugeFrom('media_outbox_backlog', 'Usage reports not yet delivered to user-service', async () => {
      const [row] = await prisma.$queryRaw<{ count: bigint }[]>`SELECT count(*) AS count FROM usage_outbox`;
      return Number(row?.count ?? 0);
    });
  }
}
