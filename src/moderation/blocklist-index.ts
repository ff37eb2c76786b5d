import type { BlockedHash, HashAlgorithm, IndexedEntry } from '../db/blocklist.repository.js';
import { fromHex, hammingDistance } from './phash.js';
import { PhashIndex, type PhashMatch } from './phash-index.js';

/** Why a file is blocked: the entry, the hash of it that matched, and how far (0 unless pHash). */
export interface BlockMatch {
  entryId: string;
  reason: string;
  algorithm: HashAlgorithm;
  hash: string;
  distance: number;
}

/** Hashes of one file: the upload's and the stored version's digests, its pHashes (unsigned 64-bit). */
export interface FileHashes {
  sha256: string[];
  md5: string[];
  phashes: bigint[];
}

/**
 * Every blocked hash in memory: exact sets for sha256 and md5, a multi-index Hamming index
 * for pHashes. Entries are put and dropped whole (an entry's hashes change only with it).
 */
export class BlocklistIndex {
  private readonly entries = new Map<string, IndexedEntry & { number: number }>();
  /** Entry ids by the number the pHash index knows them by; numbers of dropped entries are reused. */
  private readonly idOf: (string | undefined)[] = [];
  private readonly freeNumbers: number[] = [];
  /** Hash → the entry blocking it, or the (rare) several; no Set per hash: at a million entries that alone is ~100 MB. */
  private readonly exact = { sha256: new Map<string, string | string[]>(), md5: new Map<string, string | string[]>() };
  /** Each pHash under its entry's number. */
  private readonly phashes: PhashIndex;
  private hashCount = 0;

  constructor(private readonly maxDistance: number) {
    this.phashes = new PhashIndex(maxDistance);
  }

  get size(): { entries: number; hashes: number } {
    return { entries: this.entries.size, hashes: this.hashCount };
  }

  /** Builds the pHash tables now (a lookup would, after many additions), so the first upload after a load does not wait for it. */
  prepare(): void {
    this.phashes.matches(0n, 0);
  }

  /** Adds the entry, replacing what was indexed under its id. */
  put(entry: IndexedEntry): void {
    this.drop(entry.id);
    const number = this.freeNumbers.pop() ?? this.idOf.length;
    this.idOf[number] = entry.id;
    this.entries.set(entry.id, { ...entry, number });
    for (const { algorithm, hash } of entry.hashes) {
      if (algorithm === 'phash') {
        const value = fromHex(hash);
        if (value !== undefined) this.phashes.add(number, value);
      } else {
        const ids = this.exact[algorithm].get(hash);
        this.exact[algorithm].set(
          hash,
          ids === undefined ? entry.id : [...(typeof ids === 'string' ? [ids] : ids), entry.id],
        );
      }
    }
    this.hashCount += entry.hashes.length;
  }

  drop(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    this.idOf[entry.number] = undefined;
    this.freeNumbers.push(entry.number);
    for (const { algorithm, hash } of entry.hashes) {
      if (algorithm === 'phash') {
        const value = fromHex(hash);
        if (value !== undefined) this.phashes.remove(entry.number, value);
      } else {
        const ids = this.exact[algorithm].get(hash);
        const left = typeof ids === 'string' ? [] : (ids ?? []).filter((other) => other !== id);
        if (left.length === 0) this.exact[algorithm].delete(hash);
        else this.exact[algorithm].set(hash, left.length === 1 ? left[0] : left);
      }
    }
    this.hashCount -= entry.hashes.length;
  }

  /** An exact sha256 match first, then md5, then the nearest pHash within the distance. */
  match(hashes: FileHashes): BlockMatch | undefined {
    for (const algorithm of ['sha256', 'md5'] as const) {
      for (const hash of hashes[algorithm]) {
        const ids = hash ? this.exact[algorithm].get(hash.toLowerCase()) : undefined;
        if (ids) return this.found(first(ids), { algorithm, hash: hash.toLowerCase() }, 0);
      }
    }
    let best: { entryId: string; query: bigint; distance: number } | undefined;
    for (const hash of hashes.phashes) {
      const query = BigInt.asUintN(64, hash);
      const nearest = this.nearest(this.phashes.matches(query, this.maxDistance));
      if (nearest && (!best || nearest.distance < best.distance)) best = { ...nearest, query };
    }
    if (!best) return undefined;
    const { entryId, query, distance } = best;
    return this.found(entryId, { algorithm: 'phash', hash: this.blockedPhash(entryId, query, distance) }, distance);
  }

  /** The nearest match, the smallest entry id among equals (numbers are reused, so their order is not the ids'). */
  private nearest(matches: PhashMatch[]): { entryId: string; distance: number } | undefined {
    let best: { entryId: string; distance: number } | undefined;
    for (const { id, distance } of matches) {
      const entryId = this.idOf[id] as string;
      if (!best || distance < best.distance || (distance === best.distance && entryId < best.entryId))
        best = { entryId, distance };
    }
    return best;
  }

  /** Which of the entry's pHashes is `distance` bits from the query. */
  private blockedPhash(entryId: string, query: bigint, distance: number): string {
    const phashes = this.entries.get(entryId)?.hashes.filter((hash) => hash.algorithm === 'phash') ?? [];
    const hit = phashes.find(({ hash }) => {
      const value = fromHex(hash);
      return value !== undefined && hammingDistance(value, query) === distance;
    });
    return hit?.hash ?? '';
  }

  private found(entryId: string, hash: BlockedHash, distance: number): BlockMatch {
    return { entryId, reason: this.entries.get(entryId)?.reason ?? '', ...hash, distance };
  }
}

/** The smallest id, so that which of several entries answers does not depend on load order. */
const first = (ids: string | string[]): string =>
  typeof ids === 'string' ? ids : ids.reduce((a, b) => (b < a ? b : a));
