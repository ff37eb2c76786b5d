/**
 * npm run -s token -- <userId> [--role admin|moderator]... [--ttl 3600]
 * Prints a JWT signed with the configured HS256 secret (AUTH_JWT_SECRET, or the development
 * secret under DATA_DIR). For development and tests only.
 */
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { ConfigError, loadSigningConfig } from '../src/config/load-config.js';
import { MAX_TOKEN_LIFETIME_SECONDS } from '../src/http/auth/jwt-verifier.js';

const USAGE = `usage: npm run -s token -- <userId> [--role admin|moderator]... [--ttl <seconds>]

Prints a JWT for <userId>, signed with AUTH_JWT_SECRET or, when that is unset, the
development secret the service generated under DATA_DIR (default ./data): run it with the
service's DATA_DIR. Development and tests only.

  <userId>        1-128 characters of A-Z a-z 0-9 _ . : @ -  (one starting with "-" goes after "--")
  --role <role>   admin or moderator; repeat for both. Without it: a plain user
  --ttl <s>       lifetime in seconds (default 3600, at most 604800)
  -h, --help      this text`;

/**
 * Only the roles the service acts on (docs/api.md, "Authentication"). Any other string would be carried in
 * the token and ignored by the service, so a typo ("admn") would silently mint a plain
 * user's token: refused instead.
 */
const ROLES = ['admin', 'moderator'];
const USER_ID = /^[A-Za-z0-9_.:@-]{1,128}$/;

class UsageError extends Error {}

interface Request {
  userId: string;
  roles: string[];
  ttl: number;
}

function parse(argv: string[]): Request | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        role: { type: 'string', multiple: true },
        ttl: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (positionals.length !== 1)
    throw new UsageError(
      positionals.length
        ? `one user id expected, got ${positionals.length}: ${positionals.join(' ')}`
        : 'a user id is required',
    );
  const [userId] = positionals;
  if (!USER_ID.test(userId))
    throw new UsageError(
      `invalid user id ${JSON.stringify(userId)}: it must be 1-128 characters of A-Z a-z 0-9 _ . : @ -`,
    );
  const roles = [...new Set(values.role ?? [])];
  const unknown = roles.filter((role) => !ROLES.includes(role));
  if (unknown.length)
    throw new UsageError(
      `unknown role ${unknown.map((role) => JSON.stringify(role)).join(', ')}: the roles are ${ROLES.join(', ')}`,
    );
  const ttl = values.ttl ?? '3600';
  if (!/^[1-9]\d{0,9}$/.test(ttl))
    throw new UsageError(`--ttl must be a positive whole number of seconds, got ${JSON.stringify(ttl)}`);
  if (Number(ttl) > MAX_TOKEN_LIFETIME_SECONDS)
    throw new UsageError(
      `--ttl must be at most ${MAX_TOKEN_LIFETIME_SECONDS} seconds (7 days): the service refuses longer-lived tokens`,
    );
  return { userId, roles, ttl: Number(ttl) };
}

async function sign({ userId, roles, ttl }: Request): Promise<string> {
  const config = loadSigningConfig();
  process.stderr.write(`token: signed with ${config.source}\n`);
  return new SignJWT({ roles })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttl)
    .setIssuer(config.issuer ?? 'media-service-dev')
    .setAudience(config.audience ?? 'whispr')
    .sign(new TextEncoder().encode(config.secret));
}

async function main(argv: string[]): Promise<void> {
  const request = parse(argv);
  if (request === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  process.stdout.write(`${await sign(request)}\n`);
}

main(process.argv.slice(2)).catch((error: Error) => {
  if (error instanceof UsageError) {
    process.stderr.write(`token: ${error.message}\n${USAGE.split('\n')[0]}\n`);
    process.exit(2);
  }
  process.stderr.write(`token: ${error.message}\n`);
  process.exit(error instanceof ConfigError ? 2 : 1);
});
