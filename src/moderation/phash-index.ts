import { popcount32 } from './phash.js';

/**
 * Every indexed 64-bit hash within Hamming distance t of a query, fast at a million entries:
 * multi-index hashing (Norouzi, Punjani & Fleet, "Fast Search in Hamming Space with
 * Multi-Index Hashing", CVPR 2012). The hash is cut into four 16-bit substrings; a match
 * within t differs from the query in at most ⌊t/4⌋ bits of at least one of them
 * (pigeonhole), so we probe each substring's table at the query's substring and its
 * neighbours within that radius, and verify the full distance of what the probes find.
 *
 * 16-bit substrings make each table direct-addressed: 65,536 bucket starts, then the entries
 * bucket after bucket (CSR, built by a counting sort), each as its hash and slot, so a probe
 * reads one contiguous run; for 1M random hashes a bucket holds ~15 and t = 10 costs 428
 * probes. Keeping the hash in the tables (48 bytes an entry for four, where slots alone take
 * 16) made lookups 4× faster at 1M (p50 0.15 ms, not 0.57; linked buckets 1.1 ms): a
 * slot-only bucket costs a cache miss per entry to fetch its hash.
 *
 * The tables are rebuilt lazily: entries added since are scanned linearly, removed ones
 * skipped, and the next lookup after more than max(256, size/64) of either rebuilds (a
 * counting sort, O(size), 160 ms at 1M). A removed entry's slot is reused only after that.
 */
const TABLES = 4;
const BUCKETS = 1 << 16;
const MAX_DISTANCE = 64;
const REBUILD_MIN = 256;

/** All 16-bit masks by number of set bits; the first WITHIN[r] are those with at most r. */
const MASKS = Uint16Array.from({ length: BUCKETS }, (_, mask) => mask).sort((a, b) => popcount32(a) - popcount32(b));
const WITHIN = new Uint32Array(17);
for (const mask of MASKS) WITHIN[popcount32(mask)]++;
for (let r = 1; r <= 16; r++) WITHIN[r] += WITHIN[r - 1];

export interface PhashMatch {
  id: string;
  distance: number;
}

interface Table {
  /** Bucket b holds entries starts[b] up to starts[b + 1]. */
  starts: Uint32Array;
  /** Per entry: high and low 32 bits of its hash, and its slot. */
  entries: Uint32Array;
}

export class PhashIndex {
  /** By slot: the hash's high and low 32 bits, and its id (undefined once removed). */
  private hashes = new Uint32Array(2 * 1024);
  private readonly ids: (string | undefined)[] = [];
  private readonly slotOf = new Map<string, number>();
  private readonly freeSlots: number[] = [];
  /** Slots added since the tables were built (not in them), and removed since (still in them or in pending). */
  private pending: number[] = [];
  private removed: number[] = [];
  private tables: Table[] = [];

  /** `maxDistance`: the default threshold of matches(), 0..64. */
  constructor(private readonly maxDistance: number) {
    checkDistance(maxDistance);
    this.build();
  }

  get size(): number {
    return this.slotOf.size;
  }

  /** Indexes `hash` under `id`; an id holds one hash, so adding it again replaces the old one. */
  add(id: string, hash: bigint): void {
    const [hi, lo] = halves(hash);
    this.remove(id);
    const slot = this.freeSlots.pop() ?? this.newSlot();
    this.hashes[2 * slot] = hi;
    this.hashes[2 * slot + 1] = lo;
    this.ids[slot] = id;
    this.slotOf.set(id, slot);
    this.pending.push(slot);
  }

  remove(id: string): boolean {
    const slot = this.slotOf.get(id);
    if (slot === undefined) return false;
    this.slotOf.delete(id);
    this.ids[slot] = undefined;
    this.removed.push(slot);
    return true;
  }

  /** Every entry within `maxDistance` bits of `hash`, nearest first (ties by id). */
  matches(hash: bigint, maxDistance = this.maxDistance): PhashMatch[] {
    checkDistance(maxDistance);
    const [qhi, qlo] = halves(hash);
    if (Math.max(this.pending.length, this.removed.length) > Math.max(REBUILD_MIN, this.size / 64)) this.build();
    const { hashes, ids } = this;
    const found: PhashMatch[] = [];
    for (let k = 0; k < TABLES; k++) {
      const radius = radiusOf(maxDistance, k);
      const { starts, entries } = this.tables[k];
      const key = substring(qhi, qlo, k);
      const probes = radius < 0 ? 0 : WITHIN[radius];
      for (let m = 0; m < probes; m++) {
        const bucket = key ^ MASKS[m];
        for (let i = 3 * starts[bucket]; i < 3 * starts[bucket + 1]; i += 3) {
          const xhi = entries[i] ^ qhi;
          const xlo = entries[i + 1] ^ qlo;
          const slot = entries[i + 2];
          const distance = popcount32(xhi) + popcount32(xlo);
          if (distance <= maxDistance && ids[slot] !== undefined && !probedBefore(xhi, xlo, k, maxDistance))
            found.push({ id: ids[slot], distance });
        }
      }
    }
    for (const slot of this.pending) {
      const distance = popcount32(hashes[2 * slot] ^ qhi) + popcount32(hashes[2 * slot + 1] ^ qlo);
      if (distance <= maxDistance && ids[slot] !== undefined) found.push({ id: ids[slot], distance });
    }
    return found.sort((a, b) => a.distance - b.distance || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Tables of the live slots; then the removed slots are free. */
  private build(): void {
    this.tables = Array.from({ length: TABLES }, (_, k) => this.table(k));
    for (const slot of this.removed) this.freeSlots.push(slot);
    this.removed = [];
    this.pending = [];
  }

  /** Counting sort of the live slots by substring k. */
  private table(k: number): Table {
    const { hashes, ids } = this;
    const starts = new Uint32Array(BUCKETS + 1);
    for (let slot = 0; slot < ids.length; slot++) {
      if (ids[slot] !== undefined) starts[substring(hashes[2 * slot], hashes[2 * slot + 1], k) + 1]++;
    }
    for (let bucket = 0; bucket < BUCKETS; bucket++) starts[bucket + 1] += starts[bucket];
    const entries = new Uint32Array(3 * starts[BUCKETS]);
    const next = starts.slice(0, BUCKETS);
    for (let slot = 0; slot < ids.length; slot++) {
      if (ids[slot] === undefined) continue;
      const i = 3 * next[substring(hashes[2 * slot], hashes[2 * slot + 1], k)]++;
      entries[i] = hashes[2 * slot];
      entries[i + 1] = hashes[2 * slot + 1];
      entries[i + 2] = slot;
    }
    return { starts, entries };
  }

  private newSlot(): number {
    const slot = this.ids.length;
    this.ids.push(undefined);
    if (2 * slot === this.hashes.length) {
      const grown = new Uint32Array(2 * this.hashes.length);
      grown.set(this.hashes);
      this.hashes = grown;
    }
    return slot;
  }
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

function checkDistance(distance: number): void {
  if (!Number.isInteger(distance) || distance < 0 || distance > MAX_DISTANCE)
    throw new RangeError(`Hamming distance must be 0..${MAX_DISTANCE}, got ${distance}`);
}
