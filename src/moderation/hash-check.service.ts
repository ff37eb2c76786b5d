import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { type BlockedHash, BlocklistRepository } from '../db/blocklist.repository.js';
import type { Caller } from '../access/caller.js';
import { fromHex } from './phash.js';
import { BlocklistService } from './blocklist.service.js';
import { ModerationUnavailableError } from '../peers/moderation.client.js';
import { ModerationPeer } from '../peers/moderation-peer.js';

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
    private readonly moderation: ModerationPeer,
  ) {}

  /** `wanted` is already in stored form (see parseHash). */
  async check(caller: Caller, wanted: BlockedHash): Promise<HashCheckResult> {
    await this.blocklist.whenReady();
    const [blocked, duplicateOf] = await Promise.all([
      this.isBlocked(wanted),
      // Only ever the caller's own media, whatever their roles: hash-check must not reveal what others stored.
      this.repository.ownMatch(caller.id, wanted, this.config.phashMaxDistance),
    ]);
    return { blocked, duplicateOf };
  }

  /**
   * The local blocklist (a pHash within PHASH_MAX_DISTANCE), then, when MODERATION_GRPC_URL
   * is set, moderation-service's GetContentHash. The peer failing is a 503 in closed mode
   * (never a "not blocked" it could not vouch for); in open mode the local answer stands.
   */
  private async isBlocked(wanted: BlockedHash): Promise<boolean> {
    if (this.isBlockedLocally(wanted)) return true;
    const peer = this.moderation.client;
    if (!peer) return false;
    try {
      return (await peer.getContentHash(wanted)).blocked;
    } catch (error) {
      if (error instanceof ModerationUnavailableError && this.moderation.failsOpen) return false;
      throw error;
    }
  }

  private isBlockedLocally(wanted: BlockedHash): boolean {
    const { algorithm, hash } = wanted;
    const match = this.blocklist.match({
      sha256: algorithm === 'sha256' ? [hash] : [],
      md5: algorithm === 'md5' ? [hash] : [],
      phashes: algorithm === 'phash' ? [fromHex(hash)!] : [],
    });
    return match !== undefined;
  }
}
