/** A seeded generator (mulberry32), so a random test that fails fails the same way again. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [0, n) from `random`. */
export const below = (random: () => number, n: number): number => Math.floor(random() * n);

/** A unique text file of exactly `size` bytes (lines of random words), the same for the same seed. */
export function textFile(seed: number, size: number): Buffer {
  const random = seededRandom(seed);
  const line = () => `${Array.from({ length: 15 }, () => Math.floor(random() * 1e9).toString(36)).join(' ')}\n`;
  const lines: string[] = [];
  for (let length = 0; length < size;) {
    const next = line();
    lines.push(next);
    length += next.length;
  }
  return Buffer.from(lines.join('')).subarray(0, size);
}
