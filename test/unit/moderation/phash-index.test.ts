import { PhashIndex, type PhashMatch } from '../../../src/moderation/phash-index';
import { hammingDistance } from '../../../src/moderation/phash';
import { below, seededRandom } from '../../support/random';

/**
 * The multi-index hash against a brute-force scan: 20,000 seeded random hashes plus, around
 * each query, entries planted at every distance 0..17, so each threshold has matches right at
 * its edge and just beyond it.
 */
const random = seededRandom(20240611);
const randomHash = () => (BigInt(below(random, 2 ** 32)) << 32n) | BigInt(below(random, 2 ** 32));

function flipBits(hash: bigint, count: number): bigint {
  const bits = new Set<number>();
  while (bits.size < count) bits.add(below(random, 64));
  return [...bits].reduce((flipped, bit) => flipped ^ (1n << BigInt(bit)), hash);
}

/** Numeric ids (what the index keeps) for the names the test reads. */
const numbers = new Map<string, number>();
const id = (name: string): number => {
  if (!numbers.has(name)) numbers.set(name, numbers.size);
  return numbers.get(name)!;
};

const THRESHOLDS = [0, 3, 4, 7, 10, 13, 16]; // every t % 4, the edges of the probe radii
const entries = new Map<number, bigint>();
for (let i = 0; i < 20_000; i++) entries.set(id(`r${i}`), randomHash());
const centres = Array.from({ length: 40 }, randomHash);
centres.forEach((centre, c) => {
  for (let d = 0; d <= 17; d++) entries.set(id(`c${c}-d${d}`), flipBits(centre, d));
});
// Queries: the planted centres, and near copies of random entries.
const queries = [...centres, ...Array.from({ length: 40 }, (_, i) => flipBits(entries.get(id(`r${i * 97}`))!, i % 9))];

/** Every entry of `source` within t of `hash`, by a scan, in the index's order; one scan serves every t. */
function bruteForce(hash: bigint, source = entries): (t: number) => PhashMatch[] {
  const all = [...source]
    .map(([id, entry]) => ({ id, distance: hammingDistance(hash, entry) }))
    .filter((match) => match.distance <= 16)
    .sort((a, b) => a.distance - b.distance || a.id - b.id);
  return (t) => all.filter((match) => match.distance <= t);
}

function indexOf(source: Map<number, bigint>, maxDistance = 10): PhashIndex {
  const index = new PhashIndex(maxDistance);
  for (const [number, hash] of source) index.add(number, hash);
  return index;
}

function expectSameAsBruteForce(index: PhashIndex, sample: bigint[], source = entries): number {
  let matched = 0;
  for (const query of sample) {
    const within = bruteForce(query, source);
    for (const t of THRESHOLDS) {
      const expected = within(t);
      expect(index.matches(query, t)).toEqual(expected);
      matched += expected.length;
    }
  }
  return matched;
}

describe('PhashIndex', () => {
  const index = indexOf(entries);

  it('finds exactly what a linear scan finds, at every threshold', () => {
    expect(index.size).toBe(entries.size);
    expect(expectSameAsBruteForce(index, queries)).toBeGreaterThan(queries.length * THRESHOLDS.length);
  });

  it('finds planted entries up to the threshold and none beyond it', () => {
    for (const t of THRESHOLDS) {
      centres.forEach((centre, c) => {
        const ids = new Set(index.matches(centre, t).map((match) => match.id));
        for (let d = 0; d <= t; d++) expect(ids).toContain(id(`c${c}-d${d}`));
        expect(ids).not.toContain(id(`c${c}-d${t + 1}`));
      });
    }
  });

  it('uses the threshold given to the constructor by default', () => {
    const within = bruteForce(centres[0]);
    expect(index.matches(centres[0])).toEqual(within(10));
    expect(indexOf(entries, 4).matches(centres[0])).toEqual(within(4));
  });

  it('agrees with a scan through rounds of adds, moves, twins and removals of every size', () => {
    const model = new Map(entries);
    const changing = indexOf(model);
    const ids = [...model.keys()];
    // Small rounds stay in the added-since list, large ones make the next lookup rebuild the tables.
    [1, 3, 40, 700, 5, 2000, 1, 300, 9000, 2].forEach((round, r) => {
      for (let i = 0; i < round; i++) {
        const picked = ids[below(random, ids.length)];
        const held = model.get(picked);
        const change = below(random, 4);
        if (change === 0) {
          expect(changing.remove(picked, held ?? randomHash())).toBe(model.delete(picked));
        } else if (change === 1) {
          // A move: the old hash out, a new one in under the same id.
          if (held !== undefined) changing.remove(picked, held);
          const hash = randomHash();
          changing.add(picked, hash);
          model.set(picked, hash);
        } else {
          const [newId, hash] =
            change === 2
              ? [id(`${picked}-twin${r}`), held ?? randomHash()]
              : [id(`n${r}-${i}`), flipBits(centres[i % centres.length], below(random, 18))];
          const replaced = model.get(newId); // the same twin made twice in a round
          if (replaced !== undefined) changing.remove(newId, replaced);
          changing.add(newId, hash);
          model.set(newId, hash);
          ids.push(newId);
        }
      }
      expect(changing.size).toBe(model.size);
      expectSameAsBruteForce(changing, queries.slice(0, 10), model);
    });
  });

  it('holds several hashes under one id and removes exactly the one named', () => {
    const small = new PhashIndex(10);
    const [first, second] = [randomHash(), randomHash()];
    small.add(7, first);
    small.add(7, second);
    expect(small.size).toBe(2);
    expect(small.matches(second)).toEqual([
      { id: 7, distance: 0 },
      ...(hammingDistance(first, second) <= 10 ? [{ id: 7, distance: hammingDistance(first, second) }] : []),
    ]);
    expect(small.remove(7, first)).toBe(true);
    expect(small.remove(7, first)).toBe(false);
    expect(small.remove(8, second)).toBe(false);
    expect(small.matches(first, 0)).toEqual([]);
    expect(small.matches(second)).toEqual([{ id: 7, distance: 0 }]);
    expect(small.remove(7, second)).toBe(true);
    expect(small.size).toBe(0);
    expect(small.matches(second)).toEqual([]);
  });

  /** Enough adds that the next lookup rebuilds the tables (more than size/64). */
  function rebuildSoon(target: PhashIndex): void {
    for (let i = 0, n = target.size / 32; i < n; i++) target.add(id(`filler-${i}`), randomHash());
  }

  it.each([
    ['alone', () => new PhashIndex(10)],
    ['among 20,000, before and after rebuilds', () => indexOf(entries)],
  ])('finds the same hash under several ids, and the others after one is removed (%s)', (_, create) => {
    const target = create();
    const hash = randomHash();
    const [x, y, z, near] = ['x', 'y', 'z', 'near'].map(id);
    for (const twin of [x, y, z]) target.add(twin, hash);
    const nearHash = flipBits(hash, 3);
    target.add(near, nearHash);
    const all = [
      { id: x, distance: 0 },
      { id: y, distance: 0 },
      { id: z, distance: 0 },
      { id: near, distance: 3 },
    ];
    expect(target.matches(hash)).toEqual(all);
    rebuildSoon(target);
    expect(target.matches(hash)).toEqual(all);
    expect(target.remove(y, nearHash)).toBe(false);
    expect(target.remove(y, hash)).toBe(true);
    expect(target.matches(hash).map((match) => match.id)).toEqual([x, z, near]);
    rebuildSoon(target);
    expect(target.matches(hash).map((match) => match.id)).toEqual([x, z, near]);
    target.add(y, hash);
    expect(target.matches(hash, 0).map((match) => match.id)).toEqual([x, y, z]);
  });

  it('refuses hashes outside 64 bits and thresholds outside 0..64', () => {
    const small = new PhashIndex(10);
    expect(() => small.add(1, -1n)).toThrow(RangeError);
    expect(() => small.add(1, 1n << 64n)).toThrow(RangeError);
    expect(() => small.add(-1, 0n)).toThrow(RangeError);
    expect(() => small.add(0xffffffff, 0n)).toThrow(RangeError);
    expect(() => small.add(1.5, 0n)).toThrow(RangeError);
    expect(() => small.matches(0n, 65)).toThrow(RangeError);
    expect(() => small.matches(0n, 2.5)).toThrow(RangeError);
    expect(() => new PhashIndex(-1)).toThrow(RangeError);
    expect(small.matches((1n << 64n) - 1n, 64)).toEqual([]);
  });
});
