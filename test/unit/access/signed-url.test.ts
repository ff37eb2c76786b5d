import { SignedUrls } from '../../../src/access/signed-url';

describe('signed URL tokens', () => {
  const oldKey = { id: 'old', key: Buffer.alloc(32, 1) };
  const newKey = { id: 'new', key: Buffer.alloc(32, 2) };
  const now = Date.parse('2026-12-07T12:00:00Z');
  const grant = {
    mediaId: '0b6f3a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b',
    variant: 'preview-256' as const,
    userId: 'bob',
    roles: [],
    expiresAt: now / 1000 + 60,
  };
  const tokenOf = (url: string) => new URL(url, 'http://x').searchParams.get('token')!;

  it('mints the paths of the contract and verifies what it minted', () => {
    const urls = new SignedUrls([oldKey]);
    const preview = urls.mint(grant);
    expect(preview).toMatch(
      /^\/api\/v1\/media\/0b6f3a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b\/preview\?size=256&token=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/,
    );
    expect(urls.verify(tokenOf(preview), now)).toEqual(grant);
    expect(urls.mint({ ...grant, variant: 'original' })).toMatch(
      /^\/api\/v1\/media\/0b6f3a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b\?token=/,
    );
  });

  it('rotates: the first key signs, every key verifies, a dropped key no longer does', () => {
    const before = tokenOf(new SignedUrls([oldKey]).mint(grant));
    const rotated = new SignedUrls([newKey, oldKey]);
    expect(rotated.verify(before, now).userId).toBe('bob');
    const after = tokenOf(rotated.mint(grant));
    expect(JSON.parse(Buffer.from(after.split('.')[0], 'base64url').toString()).k).toBe('new');
    expect(() => new SignedUrls([newKey]).verify(before, now)).toThrow(/bad signature/);
  });

  it('refuses expired, tampered, re-keyed and malformed tokens with 401', () => {
    const urls = new SignedUrls([oldKey]);
    const token = tokenOf(urls.mint(grant));
    const [payload, mac] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const reencode = (changed: object) =>
      `${Buffer.from(JSON.stringify({ ...claims, ...changed })).toString('base64url')}.${mac}`;
    expect(() => urls.verify(token, now + 60_000)).toThrow(/expired/);
    for (const bad of [
      reencode({ e: claims.e + 3600 }),
      reencode({ u: 'alice' }),
      reencode({ m: '00000000-0000-4000-8000-000000000000' }),
      reencode({ v: 'original' }),
      reencode({ k: 'new' }),
      `${payload}.${mac.slice(0, -2)}`,
    ]) {
      expect(() => urls.verify(bad, now)).toThrow(expect.objectContaining({ status: 401 }));
    }
    for (const bad of [
      '',
      '.',
      'abc',
      `${payload}.${mac}.x`,
      'x'.repeat(2000),
      `${Buffer.from('not json').toString('base64url')}.${mac}`,
    ]) {
      expect(() => urls.verify(bad, now)).toThrow(expect.objectContaining({ code: 'UNAUTHORIZED' }));
    }
  });
});
