import { BlocklistIndex } from '../../../src/moderation/blocklist-index';
import { parseHash } from '../../../src/moderation/blocklist.service';
import { toHex } from '../../../src/moderation/phash';
import { flipBits } from '../../support/pictures';

const none = { sha256: [], md5: [], phashes: [] };
const SHA = 'a'.repeat(64);
const MD5 = 'b'.repeat(32);
const P = 0xf0f0_1234_5678_9abcn;

describe('BlocklistIndex', () => {
  it('matches exact sha256 before md5 before the nearest pHash, with the entry and its reason', () => {
    const index = new BlocklistIndex(10);
    index.put({ id: 'e-sha', reason: 'by sha', hashes: [{ algorithm: 'sha256', hash: SHA }] });
    index.put({ id: 'e-md5', reason: 'by md5', hashes: [{ algorithm: 'md5', hash: MD5 }] });
    index.put({ id: 'e-far', reason: 'far', hashes: [{ algorithm: 'phash', hash: toHex(flipBits(P, 8)) }] });
    index.put({ id: 'e-near', reason: 'near', hashes: [{ algorithm: 'phash', hash: toHex(flipBits(P, 2)) }] });
    expect(index.match({ sha256: [SHA.toUpperCase()], md5: [MD5], phashes: [P] })).toEqual({
      entryId: 'e-sha',
      reason: 'by sha',
      algorithm: 'sha256',
      hash: SHA,
      distance: 0,
    });
    expect(index.match({ sha256: ['c'.repeat(64)], md5: [MD5], phashes: [P] })).toMatchObject({
      entryId: 'e-md5',
      algorithm: 'md5',
    });
    expect(index.match({ ...none, phashes: [flipBits(P, 40), P] })).toEqual({
      entryId: 'e-near',
      reason: 'near',
      algorithm: 'phash',
      hash: toHex(flipBits(P, 2)),
      distance: 2,
    });
    expect(index.match({ ...none, phashes: [flipBits(P, 30)] })).toBeUndefined();
    expect(index.size).toEqual({ entries: 4, hashes: 4 });
  });

  it('matches pHashes up to the threshold and not one bit beyond, as signed or unsigned bigints', () => {
    const index = new BlocklistIndex(10);
    index.put({ id: 'e', reason: 'r', hashes: [{ algorithm: 'phash', hash: toHex(P) }] });
    expect(index.match({ ...none, phashes: [flipBits(P, 10)] })?.distance).toBe(10);
    expect(index.match({ ...none, phashes: [flipBits(P, 11)] })).toBeUndefined();
    expect(index.match({ ...none, phashes: [BigInt.asIntN(64, P)] })?.distance).toBe(0);
  });

  it('drops an entry with all its hashes, and keeps another entry blocking the same hash', () => {
    const index = new BlocklistIndex(10);
    const hashes = [
      { algorithm: 'sha256' as const, hash: SHA },
      { algorithm: 'phash' as const, hash: toHex(P) },
      { algorithm: 'phash' as const, hash: toHex(~P & 0xffff_ffff_ffff_ffffn) },
    ];
    index.put({ id: 'b', reason: 'second', hashes });
    index.put({ id: 'a', reason: 'first', hashes: hashes.slice(0, 1) });
    expect(index.match({ ...none, sha256: [SHA] })?.entryId).toBe('a'); // the smallest id, whatever the order of puts
    index.drop('a');
    expect(index.match({ ...none, sha256: [SHA] })?.entryId).toBe('b');
    expect(index.match({ ...none, phashes: [~P & 0xffff_ffff_ffff_ffffn] })?.entryId).toBe('b');
    index.put({ id: 'b', reason: 'replaced', hashes: hashes.slice(1, 2) });
    expect(index.match({ ...none, sha256: [SHA] })).toBeUndefined();
    expect(index.match({ ...none, phashes: [P] })?.reason).toBe('replaced');
    index.drop('b');
    index.drop('missing');
    expect(index.match({ ...none, phashes: [P] })).toBeUndefined();
    expect(index.size).toEqual({ entries: 0, hashes: 0 });
  });
});

describe('parseHash', () => {
  it('accepts hex of the algorithm’s length in any case, stored lowercase', () => {
    expect(parseHash('sha256', SHA.toUpperCase())).toEqual({ algorithm: 'sha256', hash: SHA });
    expect(parseHash('md5', MD5)).toEqual({ algorithm: 'md5', hash: MD5 });
    expect(parseHash('phash', 'ABCDEF0123456789')).toEqual({ algorithm: 'phash', hash: 'abcdef0123456789' });
  });

  it.each([
    ['sha256', 'a'.repeat(63)],
    ['md5', 'a'.repeat(64)],
    ['phash', 'g'.repeat(16)],
    ['phash', ' abcdef012345678'],
    ['sha1', 'a'.repeat(40)],
    ['toString', 'a'.repeat(16)],
    ['md5', 42],
    [undefined, MD5],
  ])('refuses %s %s', (algorithm, hash) => {
    expect(parseHash(algorithm, hash)).toBeUndefined();
  });

  it('answers a pHash matched by several entries with the nearest, then the smallest id, and names the hash that matched', () => {
    const index = new BlocklistIndex(10);
    const far = toHex(flipBits(P, 3));
    index.put({ id: 'c', reason: 'c', hashes: [{ algorithm: 'phash', hash: toHex(P) }] });
    index.put({ id: 'b', reason: 'b', hashes: [{ algorithm: 'phash', hash: toHex(P) }] });
    index.put({ id: 'a', reason: 'a', hashes: [{ algorithm: 'phash', hash: far }] });
    expect(index.match({ ...none, phashes: [P] })).toMatchObject({ entryId: 'b', hash: toHex(P), distance: 0 });
    index.drop('b');
    index.drop('c');
    // A new entry takes a dropped entry's number; the answer still goes by id.
    index.put({ id: 'd', reason: 'd', hashes: [{ algorithm: 'phash', hash: far }] });
    expect(index.match({ ...none, phashes: [P] })).toMatchObject({ entryId: 'a', hash: far, distance: 3 });
  });
});
