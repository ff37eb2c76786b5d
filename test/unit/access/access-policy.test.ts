import { mayRead } from '../../../src/access/access-policy';

describe('mayRead', () => {
  const media = { ownerId: 'alice', quarantinedBy: null };
  const quarantined = { ownerId: 'alice', quarantinedBy: 'entry-1' };
  it.each([
    ['the owner', media, { id: 'alice', roles: [] }, true],
    ['another user', media, { id: 'bob', roles: [] }, false],
    ['another user with an unknown role', media, { id: 'bob', roles: ['editor'] }, false],
    ['an admin', media, { id: 'root', roles: ['admin'] }, true],
    ['a moderator', media, { id: 'mod', roles: ['moderator'] }, true],
    ['the owner of quarantined media', quarantined, { id: 'alice', roles: [] }, false],
    ['a moderator, of quarantined media', quarantined, { id: 'mod', roles: ['moderator'] }, true],
  ])('%s → %s', (_label, target, caller, allowed) => {
    expect(mayRead(target, caller)).toBe(allowed);
  });
});
