import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { UserPeer } from '../peers/user-peer.js';
import type { LedgerLimits } from './upload-ledger.js';

/**
 * A user's storage quota and daily upload count: user-service's (`GetUserQuotas`, cached an
 * hour) when USER_GRPC_URL is set, where it gives them; QUOTA_STORAGE_BYTES and
 * QUOTA_DAILY_UPLOADS otherwise. user-service down is 503 DEPENDENCY_UNAVAILABLE: an upload
 * is never admitted under a limit that was not the user's.
 */
@Injectable()
export class UserLimits {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly users: UserPeer,
  ) {}

  async of(userId: string, signal?: AbortSignal): Promise<LedgerLimits> {
    const defaults = { quotaBytes: this.config.limits.quotaBytes, dailyUploads: this.config.limits.dailyUploads };
    const client = this.users.client;
    if (!client) return defaults;
    const quotas = await client.getUserQuotas(userId, { signal });
    return {
      quotaBytes: quotas.storageBytes ?? defaults.quotaBytes,
      dailyUploads: quotas.dailyUploads ?? defaults.dailyUploads,
    };
  }
}
