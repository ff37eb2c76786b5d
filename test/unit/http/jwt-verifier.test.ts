import { SignJWT, UnsecuredJWT } from 'jose';
import { JwtVerifier } from '../../../src/http/auth/jwt-verifier';
import { isMediaError } from '../../../src/errors';

const SECRET = 'unit-secret-0123456789abcdef-0123456789abcdef';
const key = (secret = SECRET) => new TextEncoder().encode(secret);
const now = () => Math.floor(Date.now() / 1000);

interface Spec {
  sub?: unknown;
  roles?: unknown;
  exp?: number | null;
  iss?: string;
  aud?: string;
  secret?: string;
}

async function token({
  sub = 'alice',
  roles = [],
  exp = now() + 600,
  iss = 'auth',
  aud = 'whispr',
  secret,
}: Spec): Promise<string> {
  const jwt = new SignJWT({ roles, sub } as Record<string, unknown>)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setIssuer(iss)
    .setAudience(aud);
  if (exp !== null) jwt.setExpirationTime(exp);
  return jwt.sign(key(secret));
}

/** What the verifier answers: the caller, or the error's message. */
async function outcome(verifier: JwtVerifier, jwt: string): Promise<unknown> {
  try {
    return await verifier.verify(jwt);
  } catch (error) {
    if (isMediaError(error)) return `${error.code}: ${error.message}`;
    throw error;
  }
}

describe('JwtVerifier (HS256, issuer and audience set)', () => {
  const verifier = new JwtVerifier({ jwtSecret: SECRET, issuer: 'auth', audience: 'whispr' });
  const refused = 'UNAUTHORIZED: The token is invalid or expired';

  it.each<[string, Spec, unknown]>([
    ['a valid token', {}, { id: 'alice', roles: [] }],
    [
      'roles: only strings are kept',
      { roles: ['admin', 7, null, 'moderator'] },
      { id: 'alice', roles: ['admin', 'moderator'] },
    ],
    ['roles that are not an array', { roles: 'admin' }, { id: 'alice', roles: [] }],
    ['expired', { exp: now() - 120 }, refused],
    ['without exp', { exp: null }, refused],
    ['signed with another secret', { secret: `${SECRET}-other` }, refused],
    ['another issuer', { iss: 'someone' }, refused],
    ['another audience', { aud: 'elsewhere' }, refused],
    ['a subject with a space', { sub: 'bad id' }, 'UNAUTHORIZED: The token subject is invalid'],
    ['a subject of 129 characters', { sub: 'x'.repeat(129) }, 'UNAUTHORIZED: The token subject is invalid'],
    [
      'a lifetime of 8 days',
      { exp: now() + 8 * 24 * 3600 },
      'UNAUTHORIZED: The token lives longer than the 7 days accepted',
    ],
    ['exp: 1e308', { exp: 1e308 }, 'UNAUTHORIZED: The token lives longer than the 7 days accepted'],
  ])('%s', async (_label, spec, expected) => {
    expect(await outcome(verifier, await token(spec))).toEqual(expected);
  });

  it('refuses an unsigned token (alg: none) and garbage', async () => {
    const unsigned = new UnsecuredJWT({ roles: ['admin'] })
      .setSubject('mallory')
      .setIssuer('auth')
      .setAudience('whispr')
      .setExpirationTime('10m')
      .encode();
    expect(await outcome(verifier, unsigned)).toBe(refused);
    expect(await outcome(verifier, 'not.a.token')).toBe(refused);
  });
});
