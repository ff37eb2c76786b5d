import { popcount32 } from './phash.js';

/**
 * Every indexed 64-bit hash within Hamming distance t of a query, fast at a million entries
 * and in 24 bytes an entry: multi-index hashing (Norouzi, Punjani & Fleet, "Fast Search in
 * Hamming Space with Multi-Index Hashing", CVPR 2012). The hash is cut into four 16-bit
 * substrings; a match within t differs from the query in at most ⌊t/4⌋ bits of at least one
 * of them (pigeonhole), so we probe each substring's table at the query's substring and its
 * neighbours within that radius, and verify the full distance of what the probes find.
 *
 * 16-bit substrings make each table direct-addressed: 65,536 bucket starts, then the
 * entries bucket after bucket (CSR, built by a counting sort). The entries themselves (hash
 * halves and id, 12 bytes) are kept sorted by the first substring, so they are the first
 * table; the other three hold positions into them (4 bytes each). At 1M random hashes a
 * bucket holds ~15 and t = 10 costs 428 probes.
 *
 * The tables are rebuilt lazily: entries added since are scanned linearly, removed ones are
 * marked, and the next lookup after more than max(256, size/64) of either rebuilds (two
 * counting sorts, O(size)).
 */
const TABLES = 4;
const BUCKETS = 1 << 16;
const MAX_DISTANCE = 64;
const REBUILD_MIN = 256;
/** The id of a removed entry, until the next rebuild drops it. */
const REMOVED = 0xffffffff;

/** All 16-bit masks by number of set bits; the first WITHIN[r] are those with at most r. */
const MASKS = Uint16Array.from({ length: BUCKETS }, (_, mask) => mask).sort((a, b) => popcount32(a) - popcount32(b));
const WITHIN = new Uint32Array(17);
for (const mask of MASKS) WITHIN[popcount32(mask)]++;
for (let r = 1; r <= 16; r++) WITHIN[r] += WITHIN[r - 1];

export interface PhashMatch {
  id: number;
  distance: number;
}

/** Entries in columns: hash halves and id at the same position. */
interface Columns {
  hi: Uint32Array;
  lo: Uint32Array;
  ids: Uint32Array;
}

export class PhashIndex {
  /** The entries at the last build, sorted by substring 0 (bucket b from starts[0][b]); removed ones have id REMOVED. */
  private built = columns(0);
  /** Per table, its bucket starts; tables 1..3 also their entries' positions in `built`, bucket after bucket. */
  private starts: Uint32Array[] = [];
  private positions: Uint32Array[] = [];
  private removedSinceBuild = 0;
  /** Added since the build, in order: the first `pendingCount` of each column. */
  private pending: Columns = columns(REBUILD_MIN);
  private pendingCount = 0;

  /** `maxDistance`: the default threshold of matches(), 0..64. */
  constructor(private readonly maxDistance: number) {
    checkDistance(maxDistance);
    this.build();
  }

  get size(): number {
    return this.built.ids.length - this.removedSinceBuild + this.pendingCount;
  }

  /** Indexes `hash` under `id` (a uint32 the caller chooses; an id may hold several hashes). */
  add(id: number, hash: bigint): void {
    checkId(id);
    const [hi, lo] = halves(hash);
    if (this.pendingCount === this.pending.ids.length) this.pending = grown(this.pending);
    const i = this.pendingCount++;
    this.pending.hi[i] = hi;
    this.pending.lo[i] = lo;
    this.pending.ids[i] = id;
  }

  /** Removes one `hash` indexed under `id`; false if there is none. */
  remove(id: number, hash: bigint): boolean {
    const [hi, lo] = halves(hash);
    const { built, starts } = this;
    const bucket = substring(hi, lo, 0);
    for (let p = starts[0][bucket]; p < starts[0][bucket + 1]; p++) {
      if (built.ids[p] === id && built.hi[p] === hi && built.lo[p] === lo) {
        built.ids[p] = REMOVED;
        this.removedSinceBuild++;
        return true;
      }
    }
    const pending = this.pending;
    for (let i = 0; i < this.pendingCount; i++) {
      if (pending.ids[i] === id && pending.hi[i] === hi && pending.lo[i] === lo) {
        for (const column of [pending.hi, pending.lo, pending.ids]) column.copyWithin(i, i + 1, this.pendingCount);
        this.pendingCount--;
        return true;
      }
    }
    return false;
  }

  /** Every entry within `maxDistance` bits of `hash`, nearest first (ties by id). */
  matches(hash: bigint, maxDistance = this.maxDistance): PhashMatch[] {
    checkDistance(maxDistance);
    const [qhi, qlo] = halves(hash);
    if (Math.max(this.pendingCount, this.removedSinceBuild) > Math.max(REBUILD_MIN, this.size / 64)) this.build();
    const { hi, lo, ids } = this.built;
    const found: PhashMatch[] = [];
    for (let k = 0; k < TABLES; k++) {
      const radius = radiusOf(maxDistance, k);
      const starts = this.starts[k];
      const positions = this.positions[k];
      const key = substring(qhi, qlo, k);
      const probes = radius < 0 ? 0 : WITHIN[radius];
      for (let m = 0; m < probes; m++) {
        const bucket = key ^ MASKS[m];
        for (let i = starts[bucket]; i < starts[bucket + 1]; i++) {
          const p = k === 0 ? i : positions[i];
          const xhi = hi[p] ^ qhi;
          const xlo = lo[p] ^ qlo;
          const distance = popcount32(xhi) + popcount32(xlo);
          if (distance <= maxDistance && ids[p] !== REMOVED && !probedBefore(xhi, xlo, k, maxDistance))
            found.push({ id: ids[p], distance });
        }
      }
    }
    const pending = this.pending;
    for (let i = 0; i < this.pendingCount; i++) {
      const distance = popcount32(pending.hi[i] ^ qhi) + popcount32(pending.lo[i] ^ qlo);
      if (distance <= maxDistance) found.push({ id: pending.ids[i], distance });
    }
    return found.sort((a, b) => a.distance - b.distance || a.id - b.id);
  }

  /** The live entries and the pending ones, sorted by substring 0; then the other tables over them. */
  private build(): void {
    const old = this.built;
    const pending = this.pending;
    const count = this.size;
    const starts0 = new Uint32Array(BUCKETS + 1);
    const live = (p: number) => old.ids[p] !== REMOVED;
    for (let p = 0; p < old.ids.length; p++) if (live(p)) starts0[substring(old.hi[p], old.lo[p], 0) + 1]++;
    for (let i = 0; i < this.pendingCount; i++) starts0[substring(pending.hi[i], pending.lo[i], 0) + 1]++;
    prefixSum(starts0);
    const built = columns(count);
    const next = starts0.slice(0, BUCKETS);
    const place = (hi: number, lo: number, id: number) => {
      const p = next[substring(hi, lo, 0)]++;
      built.hi[p] = hi;
      built.lo[p] = lo;
      built.ids[p] = id;
    };
    for (let p = 0; p < old.ids.length; p++) if (live(p)) place(old.hi[p], old.lo[p], old.ids[p]);
    for (let i = 0; i < this.pendingCount; i++) place(pending.hi[i], pending.lo[i], pending.ids[i]);
    this.built = built;
    this.starts = [starts0];
    this.positions = [new Uint32Array(0)];
    for (let k = 1; k < TABLES; k++) this.table(k);
    this.removedSinceBuild = 0;
    this.pending = columns(REBUILD_MIN);
    this.pendingCount = 0;
  }

  /** Counting sort of the built entries' positions by substring k. */
  private table(k: number): void {
    const { hi, lo } = this.built;
    const starts = new Uint32Array(BUCKETS + 1);
    for (let p = 0; p < hi.length; p++) starts[substring(hi[p], lo[p], k) + 1]++;
    prefixSum(starts);
    const positions = new Uint32Array(hi.length);
    const next = starts.slice(0, BUCKETS);
    for (let p = 0; p < hi.length; p++) positions[next[substring(hi[p], lo[p], k)]++] = p;
    this.starts.push(starts);
    this.positions.push(positions);
  }
}

const columns = (length: number): Columns => ({
  hi: new Uint32Array(length),
  lo: new Uint32Array(length),
  ids: new Uint32Array(length),
});

/** Twice the room, the same entries. */
function grown(old: Columns): Columns {
  const bigger = columns(2 * old.ids.length);
  bigger.hi.set(old.hi);
  bigger.lo.set(old.lo);
  bigger.ids.set(old.ids);
  return bigger;
}

function prefixSum(starts: Uint32Array): void {
  for (let bucket = 0; bucket < BUCKETS; bucket++) starts[bucket + 1] += starts[bucket];
}

/**
 * The probe radius of table k. Sharper than ⌊t/4⌋ for all four (Norouzi et al. §3): with
 * t = 4r + a, a match differs in ≤ r bits in one of the first a + 1 substrings or in ≤ r − 1
 * in one of the others, else it would differ in ≥ (a + 1)(r + 1) + (3 − a)r = t + 1 bits.
 */
const radiusOf = (t: number, k: number): number =>
  k <= t % TABLES ? Math.floor(t / TABLES) : Math.floor(t / TABLES) - 1;

/** Whether an earlier table's probes already reached this entry (so it is reported once). */
function probedBefore(xhi: number, xlo: number, k: number, t: number): boolean {
  for (let j = 0; j < k; j++) if (popcount32(substring(xhi, xlo, j)) <= radiusOf(t, j)) return true;
  return false;
}

/** Substring k (0 = the top 16 bits) of the hash whose 32-bit halves are hi and lo. */
const substring = (hi: number, lo: number, k: number): number =>
  ((k < 2 ? hi : lo) >>> (k % 2 === 0 ? 16 : 0)) & 0xffff;

function halves(hash: bigint): [number, number] {
  if (hash < 0n || hash >> 64n !== 0n) throw new RangeError(`not a 64-bit hash: ${hash}`);
  return [Number(hash >> 32n), Number(hash & 0xffffffffn)];
}

function checkId(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id >= REMOVED)
    throw new RangeError(`id must be a uint32 below ${REMOVED}, got ${id}`);
}

function checkDistance(distance: number): void {
  if (!Number.isInteger(distance) || distance < 0 || distance > MAX_DISTANCE)
    throw new RangeError(`Hamming distance must be 0..${MAX_DISTANCE}, got ${distance}`);
}
