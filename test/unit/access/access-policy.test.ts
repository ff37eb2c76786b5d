import { verdict } from '../../../src/access/access-policy';

describe('the access rule (before grants are looked up)', () => {
  const now = Date.parse('2026-12-07T12:00:00Z');
  const media = { ownerId: 'alice', quarantinedBy: null, expiresAt: null };
  const quarantined = { ...media, quarantinedBy: 'entry-1' };
  const expiring = { ...media, expiresAt: new Date(now + 1000) };
  const expired = { ...media, expiresAt: new Date(now) };
  it.each([
    ['the owner', media, { id: 'alice', roles: [] }, 'yes'],
    ['another user: only with a grant', media, { id: 'bob', roles: [] }, 'grant'],
    ['another user with an unknown role: only with a grant', media, { id: 'bob', roles: ['editor'] }, 'grant'],
    ['an admin', media, { id: 'root', roles: ['admin'] }, 'yes'],
    ['a moderator', media, { id: 'mod', roles: ['moderator'] }, 'yes'],
    ['the owner of quarantined media', quarantined, { id: 'alice', roles: [] }, 'no'],
    ['a grantee of quarantined media', quarantined, { id: 'bob', roles: [] }, 'no'],
    ['a moderator, of quarantined media', quarantined, { id: 'mod', roles: ['moderator'] }, 'yes'],
    ['the owner, before the expiry', expiring, { id: 'alice', roles: [] }, 'yes'],
    ['the owner, from the expiry on', expired, { id: 'alice', roles: [] }, 'no'],
    ['an admin, from the expiry on', expired, { id: 'root', roles: ['admin'] }, 'no'],
    ['a grantee, from the expiry on', expired, { id: 'bob', roles: [] }, 'no'],
  ])('%s → %s', (_label, target, caller, expected) => {
    expect(verdict(target, caller, now)).toBe(expected);
  });
});
