import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Development secrets live under DATA_DIR/secrets, are generated once and reused, so
 * tokens and stored files survive a restart. Never used with NODE_ENV=production.
 */
/** Where the development secret `name` of `dataDir` is kept. */
export function devSecretPath(dataDir: string, name: string): string {
  return join(dataDir, 'secrets', name);
}

export function devSecret(dataDir: string, name: string, generate: () => string): string {
  const file = devSecretPath(dataDir, name);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const value = generate();
  try {
    writeFileSync(file, value + '\n', { mode: 0o600, flag: 'wx' });
    return value;
  } catch (error) {
    // Another process generated it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(file, 'utf8').trim();
    throw error;
  }
}

/** The development secret `name` under `dataDir` if one was generated there, never generating one. */
export function existingDevSecret(dataDir: string, name: string): string | undefined {
  const file = join(dataDir, 'secrets', name);
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

export const generateJwtSecret = (): string => randomBytes(48).toString('base64url');
export const generateMasterKeys = (): string => `dev1:${randomBytes(32).toString('base64')}`;
export const generateSignedUrlKeys = (): string => `dev1:${randomBytes(32).toString('base64')}`;
