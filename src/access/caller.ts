/** Who is asking: the authenticated user and their roles (from the token). */
export interface Caller {
  id: string;
  roles: string[];
}

const PRIVILEGED = ['admin', 'moderator'];

/** Admins and moderators may read and delete any media (docs/api.md, "Authentication"). */
export function isPrivileged(caller: Caller): boolean {
  return caller.roles.some((role) => PRIVILEGED.includes(role));
}
