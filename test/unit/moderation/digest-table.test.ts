import { DigestTable } from '../../../src/moderation/digest-table';
import { below, seededRandom } from '../../support/random';

describe('DigestTable', () => {
  it('agrees with a map of sets through growth, removals and keys shared by many entries', () => {
    const random = seededRandom(77);
    const table = new DigestTable();
    const model = new Map<number, Set<number>>();
    // Few distinct keys among many entries, so keys collide and chains run long; numbers repeat under other keys.
    const keys = Array.from({ length: 500 }, () => below(random, 2 ** 32));
    const held: [number, number][] = [];
    for (let round = 0; round < 20_000; round++) {
      if (held.length > 0 && below(random, 3) === 0) {
        const [number, key] = held.splice(below(random, held.length), 1)[0];
        table.remove(number, key);
        model.get(key)!.delete(number);
      } else {
        const [number, key] = [below(random, 5_000), keys[below(random, keys.length)]];
        if (model.get(key)?.has(number)) continue;
        table.add(number, key);
        model.set(key, (model.get(key) ?? new Set()).add(number));
        held.push([number, key]);
      }
      if (round % 997 === 0)
        for (const key of keys)
          expect(table.candidates(key).sort((a, b) => a - b)).toEqual(
            [...(model.get(key) ?? [])].sort((a, b) => a - b),
          );
    }
    for (const key of keys) expect(new Set(table.candidates(key))).toEqual(model.get(key) ?? new Set());
  });

  it('removes only the entry named under the key named', () => {
    const table = new DigestTable();
    table.add(1, 42);
    table.add(2, 42);
    table.add(1, 43);
    table.remove(1, 44);
    table.remove(3, 42);
    expect(table.candidates(42).sort()).toEqual([1, 2]);
    table.remove(1, 42);
    expect(table.candidates(42)).toEqual([2]);
    expect(table.candidates(43)).toEqual([1]);
  });
});
