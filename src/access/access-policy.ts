import { Injectable } from '@nestjs/common';
import { GrantsRepository } from '../db/grants.repository.js';
import { MediaError } from '../errors.js';
import { type Caller, isPrivileged } from './caller.js';
import type { Variant } from './signed-url.js';

/** What the policy needs to know of a media. */
export interface Guarded {
  id: string;
  ownerId: string;
  /** The blocklist entry that quarantined it, if one did. */
  quarantinedBy: string | null;
  /** Disappearing media: unreadable from this instant on. */
  expiresAt: Date | null;
}

/** What the rule says without looking at grants; `grant` means: readable if the caller holds a grant. */
export type Verdict = 'yes' | 'no' | 'grant';

/**
 * The rule, without I/O: an expired media is absent for everyone; admins and moderators
 * may read anything else, quarantined media included (they review it); its owner may,
 * unless a blocklist entry quarantined it; anyone else only through a grant, and never
 * quarantined media.
 */
export function verdict(media: Omit<Guarded, 'id'>, caller: Caller, now = Date.now()): Verdict {
  if (media.expiresAt && media.expiresAt.getTime() <= now) return 'no';
  if (isPrivileged(caller)) return 'yes';
  if (media.quarantinedBy !== null) return 'no';
  return media.ownerId === caller.id ? 'yes' : 'grant';
}

/**
 * The one access policy, asked by every read path of both edges (REST download, metadata,
 * preview, signed URLs; gRPC GetMedia, CreateSignedUrl, GrantAccess) and by deletion.
 * Whoever may not read a media gets what an absent media gets (404 / NOT_FOUND), so ids
 * cannot be probed.
 */
@Injectable()
export class AccessPolicy {
  constructor(private readonly grants: GrantsRepository) {}

  async mayRead(media: Guarded, caller: Caller): Promise<boolean> {
    const said = verdict(media, caller);
    return said === 'grant' ? this.grants.has(media.id, caller.id) : said === 'yes';
  }

  /** Of `media`, those the caller may read (one query for all the grants). */
  async readable<T extends Guarded>(media: T[], caller: Caller): Promise<T[]> {
    const verdicts = media.map((m) => verdict(m, caller));
    const granted = await this.grants.grantedAmong(
      media.filter((_, i) => verdicts[i] === 'grant').map((m) => m.id),
      caller.id,
    );
    return media.filter((m, i) => verdicts[i] === 'yes' || (verdicts[i] === 'grant' && granted.has(m.id)));
  }

  /** Deleting for everyone and setting an expiry: the owner or a privileged role (a grantee reads, never deletes). */
  mayManage(media: Guarded, caller: Caller): boolean {
    return isPrivileged(caller) || media.ownerId === caller.id;
  }

  /**
   * A signed URL opens only the media and variant it was minted for (else 401: the token
   * is not valid here); a bearer token is not limited.
   */
  checkSignedScope(caller: Caller, mediaId: string, variant: Variant): void {
    const scope = caller.signedFor;
    if (scope && (scope.mediaId !== mediaId.toLowerCase() || scope.variant !== variant)) {
      throw new MediaError('UNAUTHORIZED', 'Invalid signed URL: it was minted for another media or variant');
    }
  }
}
