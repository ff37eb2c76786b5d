/**
 * npm run token -- <userId> [--role admin] [--ttl 3600]
 * Prints a JWT signed with the configured HS256 secret (AUTH_JWT_SECRET, or the development
 * secret under DATA_DIR). For development and tests only.
 */
import { SignJWT } from 'jose';
import { loadConfig } from '../src/config/load-config.js';

async function main(argv: string[]): Promise<void> {
  const roles: string[] = [];
  let ttl = 3600;
  let userId: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--role') roles.push(argv[++i]);
    else if (argv[i] === '--ttl') ttl = Number(argv[++i]);
    else if (!userId) userId = argv[i];
    else throw new Error(`unexpected argument: ${argv[i]}`);
  }
  if (!userId || !/^[A-Za-z0-9_.:@-]{1,128}$/.test(userId)) throw new Error('usage: npm run token -- <userId> [--role admin] [--ttl 3600]');
  if (!Number.isInteger(ttl) || ttl <= 0) throw new Error('--ttl must be a positive number of seconds');
  const config = loadConfig();
  if (!config.auth.jwtSecret) throw new Error('no HS256 secret is configured (AUTH_JWT_SECRET)');
  const token = await new SignJWT({ roles })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttl)
    .setIssuer(config.auth.issuer ?? 'media-service-dev')
    .setAudience(config.auth.audience ?? 'whispr')
    .sign(new TextEncoder().encode(config.auth.jwtSecret));
  process.stdout.write(`${token}\n`);
}

main(process.argv.slice(2)).catch((error: Error) => {
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
});
