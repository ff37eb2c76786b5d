import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { type BlockedHash, BlocklistRepository } from '../db/blocklist.repository.js';
import type { Caller } from '../media/caller.js';
import { fromHex } from './phash.js';
import { BlocklistService } from './blocklist.service.js';

export interface HashCheckResult {
  blocked: boolean;
  /** The caller's own media with this content, never anyone else's; null when none. */
  duplicateOf: string | null;
}

/** `POST /media/hash-check`: is this hash blocked, and does the caller already have it? */
@Injectable()
export class HashCheckService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly blocklist: BlocklistService,
    private readonly repository: BlocklistRepository,
  ) {}

  /** `wanted` is already in stored form (see parseHash). */
  async check(caller: Caller, wanted: BlockedHash): Promise<HashCheckResult> {
    const [blocked, duplicateOf] = await Promise.all([
      this.isBlocked(wanted),
      // Only ever the caller's own media, whatever their roles: hash-check must not reveal what others stored.
      this.repository.ownMatch(caller.id, wanted, this.config.phashMaxDistance),
    ]);
    return { blocked, duplicateOf };
  }

  /**
   * The local blocklist (a pHash within PHASH_MAX_DISTANCE). This is where moderation-service's
   * GetContentHash joins in when MODERATION_GRPC_URL is set (CONTRACT: else the local list answers alone).
   */
  private async isBlocked(wanted: BlockedHash): Promise<boolean> {
    await this.blocklist.whenReady();
    const { algorithm, hash } = wanted;
    const match = this.blocklist.match({
      sha256: algorithm === 'sha256' ? [hash] : [],
      md5: algorithm === 'md5' ? [hash] : [],
      phashes: algorithm === 'phash' ? [fromHex(hash)!] : [],
    });
    return match !== undefined;
  }
}
