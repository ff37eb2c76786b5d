import { createCipheriv, createDecipheriv, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { MasterKey } from './key-ring.js';
import { boundedCache } from '../common/cache.js';
import { DecryptionError } from './segment-format.js';

const pbkdf2Async = promisify(pbkdf2);

/**
 * The master key is 256 random bits, not a password, so the iteration count buys little;
 * it is kept moderate so a cold user costs ~20 ms, and derived keys are cached.
 */
export const PBKDF2_ITERATIONS = 100_000;
const WRAP_NONCE_BYTES = 12;

export interface WrapContext {
  dataKeyId: string;
  ownerId: string;
}

/** Derives per-user keys (PBKDF2-SHA256 of master key and user salt) and wraps data keys under them. */
export class Envelope {
  private readonly userKeys = boundedCache<string, Promise<Buffer>>({ max: 10_000 });

  userKey(master: MasterKey, ownerId: string, salt: Buffer): Promise<Buffer> {
    const cacheKey = `${master.id}\u0000${ownerId}\u0000${salt.toString('base64')}`;
    let key = this.userKeys.get(cacheKey);
    if (!key) {
      key = pbkdf2Async(master.key, salt, PBKDF2_ITERATIONS, 32, 'sha256');
      this.userKeys.set(cacheKey, key);
    }
    return key;
  }

  wrap(userKey: Buffer, dataKey: Buffer, context: WrapContext & { masterKeyId: string }): Buffer {
    const nonce = randomBytes(WRAP_NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', userKey, nonce);
    cipher.setAAD(wrapAad(context));
    const body = Buffer.concat([cipher.update(dataKey), cipher.final()]);
    return Buffer.concat([nonce, body, cipher.getAuthTag()]);
  }

  unwrap(userKey: Buffer, wrapped: Buffer, context: WrapContext & { masterKeyId: string }): Buffer {
    if (wrapped.length !== WRAP_NONCE_BYTES + 32 + 16) throw new DecryptionError('bad wrapped key');
    const decipher = createDecipheriv('aes-256-gcm', userKey, wrapped.subarray(0, WRAP_NONCE_BYTES));
    decipher.setAAD(wrapAad(context));
    decipher.setAuthTag(wrapped.subarray(wrapped.length - 16));
    const key = decipher.update(wrapped.subarray(WRAP_NONCE_BYTES, wrapped.length - 16));
    try {
      decipher.final();
    } catch {
      throw new DecryptionError('data key failed to unwrap');
    }
    return key;
  }
}

/** Binds a wrapped key to its row, its owner and its master key: a key moved elsewhere fails. */
function wrapAad(context: WrapContext & { masterKeyId: string }): Buffer {
  return Buffer.from(
    `whispr-media/data-key/v1\u0000${context.dataKeyId}\u0000${context.ownerId}\u0000${context.masterKeyId}`,
  );
}

export function newDataKey(): Buffer {
  return randomBytes(32);
}

export function newSalt(): Buffer {
  return randomBytes(16);
}
