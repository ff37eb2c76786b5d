import { type Caller, isPrivileged } from './caller.js';

/** What the policy needs to know of a media. */
export interface Guarded {
  ownerId: string;
  /** The blocklist entry that quarantined it, if one did. */
  quarantinedBy: string | null;
}

/**
 * The one rule for reading a media, asked by every read path (metadata, download, preview,
 * delete): admins and moderators may read anything, quarantined media included (they
 * review it); its owner may, unless a blocklist entry quarantined it. Anyone else gets what
 * an absent media gets (404), so ids cannot be probed.
 */
export function mayRead(media: Guarded, caller: Caller): boolean {
  if (isPrivileged(caller)) return true;
  return media.ownerId === caller.id && media.quarantinedBy === null;
}
