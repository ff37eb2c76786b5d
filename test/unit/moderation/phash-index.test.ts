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

const THRESHOLDS = [0, 3, 4, 7, 10, 13, 16]; // every t % 4, the edges of the probe radii
const entries = new Map<string, bigint>();
for (let i = 0; i < 20_000; i++) entries.set(`r${i}`, randomHash());
const centres = Array.from({ length: 40 }, randomHash);
centres.forEach((centre, c) => {
  for (let d = 0; d <= 17; d++) entries.set(`c${c}-d${d}`, flipBits(centre, d));
});
// Queries: the planted centres, and near copies of random entries.
const queries = [...centres, ...Array.from({ length: 40 }, (_, i) => flipBits(entries.get(`r${i * 97}`)!, i % 9))];

/** Every entry of `source` within t of `hash`, by a scan, in the index's order; one scan serves every t. */
function bruteForce(hash: bigint, source = entries): (t: number) => PhashMatch[] {
  const all = [...source]
    .map(([id, entry]) => ({ id, distance: hammingDistance(hash, entry) }))
    .filter((match) => match.distance <= 16)
    .sort((a, b) => a.distance - b.distance || (a.id < b.id ? -1 : 1));
  return (t) => all.filter((match) => match.distance <= t);
}

function indexOf(source: Map<string, bigint>, maxDistance = 10): PhashIndex {
  const index = new PhashIndex(maxDistance);
  for (const [id, hash] of source) index.add(id, hash);
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
        for (let d = 0; d <= t; d++) expect(ids).toContain(`c${c}-d${d}`);
        expect(ids).not.toContain(`c${c}-d${t + 1}`);
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
        const id = ids[below(random, ids.length)];
        const change = below(random, 4);
        if (change === 0) expect(changing.remove(id)).toBe(model.delete(id));
        else {
          const [newId, hash] =
            change === 1
              ? [id, randomHash()]
              : change === 2
                ? [`${id}-twin${r}`, model.get(id) ?? randomHash()]
                : [`n${r}-${i}`, flipBits(centres[i % centres.length], below(random, 18))];
          changing.add(newId, hash);
          model.set(newId, hash);
          ids.push(newId);
        }
      }
      expect(changing.size).toBe(model.size);
      expectSameAsBruteForce(changing, queries.slice(0, 10), model);
    });
  });

  it('keeps one hash per id: adding an id again moves it', () => {
    const small = new PhashIndex(10);
    const [first, second] = [randomHash(), randomHash()];
    small.add('a', first);
    small.add('a', second);
    expect(small.size).toBe(1);
    expect(small.matches(first)).toEqual(
      hammingDistance(first, second) <= 10 ? [{ id: 'a', distance: hammingDistance(first, second) }] : [],
    );
    expect(small.matches(second)).toEqual([{ id: 'a', distance: 0 }]);
    expect(small.remove('a')).toBe(true);
    expect(small.remove('a')).toBe(false);
    expect(small.matches(second)).toEqual([]);
  });

  /** Enough adds that the next lookup rebuilds the tables (more than size/64). */
  function rebuildSoon(target: PhashIndex): void {
    for (let i = 0, n = target.size / 32; i < n; i++) target.add(`filler-${i}`, randomHash());
  }

  it.each([
    ['alone', () => new PhashIndex(10)],
    ['among 20,000, before and after rebuilds', () => indexOf(entries)],
  ])('finds the same hash under several ids, and the others after one is removed (%s)', (_, create) => {
    const target = create();
    const hash = randomHash();
    for (const id of ['x', 'y', 'z']) target.add(id, hash);
    target.add('near', flipBits(hash, 3));
    const all = [
      { id: 'x', distance: 0 },
      { id: 'y', distance: 0 },
      { id: 'z', distance: 0 },
      { id: 'near', distance: 3 },
    ];
    expect(target.matches(hash)).toEqual(all);
    rebuildSoon(target);
    expect(target.matches(hash)).toEqual(all);
    expect(target.remove('y')).toBe(true);
    expect(target.matches(hash).map((match) => match.id)).toEqual(['x', 'z', 'near']);
    rebuildSoon(target);
    expect(target.matches(hash).map((match) => match.id)).toEqual(['x', 'z', 'near']);
    target.add('y', hash);
    expect(target.matches(hash, 0).map((match) => match.id)).toEqual(['x', 'y', 'z']);
  });

  it('refuses hashes outside 64 bits and thresholds outside 0..64', () => {
    const small = new PhashIndex(10);
    expect(() => small.add('neg', -1n)).toThrow(RangeError);
    expect(() => small.add('big', 1n << 64n)).toThrow(RangeError);
    expect(() => small.matches(0n, 65)).toThrow(RangeError);
    expect(() => small.matches(0n, 2.5)).toThrow(RangeError);
    expect(() => new PhashIndex(-1)).toThrow(RangeError);
    expect(small.matches((1n << 64n) - 1n, 64)).toEqual([]);
  });
});
