import type { Variant } from './signed-url.js';

/** Who is asking: the authenticated user and their roles (from the token). */
export interface Caller {
  id: string;
  roles: string[];
  /**
   * Set when the request carries a signed URL instead of a bearer token: it opens only this
   * variant of this media, read as the user who minted it (`id`, `roles`).
   */
  signedFor?: { mediaId: string; variant: Variant };
}

/** A user id, as a token's `sub` and an `acting_user_id` must be: 1-128 of [A-Za-z0-9_.:@-]. */
export const USER_ID = /^[A-Za-z0-9_.:@-]{1,128}$/;

const PRIVILEGED = ['admin', 'moderator'];

/** Admins and moderators may read and delete any media (docs/api.md, "Authentication"). */
export function isPrivileged(caller: Pick<Caller, 'roles'>): boolean {
  return caller.roles.some((role) => PRIVILEGED.includes(role));
}

/** The privileged roles among `roles`: what a signed URL carries of its minter. */
export function privilegedRoles(roles: string[]): string[] {
  return roles.filter((role) => PRIVILEGED.includes(role));
}
