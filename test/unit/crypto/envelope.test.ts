import { pbkdf2Sync } from 'node:crypto';
import { Envelope, PBKDF2_ITERATIONS } from '../../../src/crypto/envelope';

const master = { id: 'k1', key: Buffer.alloc(32, 1) };
const salt = Buffer.alloc(16, 2);

describe('key envelope', () => {
  const envelope = new Envelope();

  it('derives the user key with PBKDF2-SHA256 (fixed vector) and caches it', async () => {
    const key = await envelope.userKey(master, 'alice', salt);
    expect(key.equals(pbkdf2Sync(master.key, salt, PBKDF2_ITERATIONS, 32, 'sha256'))).toBe(true);
    expect(key.toString('hex')).toBe('7c077ff93c31537509bd73b9e225b589a7b77c263a159857aaa466784b5f7556');
    expect(await envelope.userKey(master, 'alice', salt)).toBe(key);
  });

  it('unwraps only in the context it was wrapped for', async () => {
    const userKey = await envelope.userKey(master, 'alice', salt);
    const dataKey = Buffer.alloc(32, 9);
    const context = { dataKeyId: 'id-1', ownerId: 'alice', masterKeyId: 'k1' };
    const wrapped = envelope.wrap(userKey, dataKey, context);
    expect(envelope.unwrap(userKey, wrapped, context).equals(dataKey)).toBe(true);
    expect(() => envelope.unwrap(userKey, wrapped, { ...context, dataKeyId: 'id-2' })).toThrow(/unwrap/);
    expect(() => envelope.unwrap(userKey, wrapped, { ...context, ownerId: 'bob' })).toThrow(/unwrap/);
    const other = await envelope.userKey({ id: 'k2', key: Buffer.alloc(32, 3) }, 'alice', salt);
    expect(() => envelope.unwrap(other, wrapped, context)).toThrow(/unwrap/);
    const flipped = Buffer.from(wrapped);
    flipped[20] ^= 1;
    expect(() => envelope.unwrap(userKey, flipped, context)).toThrow(/unwrap/);
  });
});
