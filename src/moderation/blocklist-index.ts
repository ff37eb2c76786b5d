import type { BlockedHash, HashAlgorithm, IndexedEntry } from '../db/blocklist.repository.js';
import { DigestTable } from './digest-table.js';
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

/** Each hash of an entry is kept as one character naming its algorithm, then its bytes (one byte a character). */
const TAGS: Record<HashAlgorithm, string> = { sha256: 's', md5: 'm', phash: 'p' };
const ALGORITHMS: Record<string, HashAlgorithm> = { s: 'sha256', m: 'md5', p: 'phash' };
const BYTES: Record<HashAlgorithm, number> = { sha256: 32, md5: 16, phash: 8 };

/**
 * Every blocked hash in memory, compactly (a million entries fit in a few hundred MB): each
 * entry has a number; by number, its id, its reason (interned: reasons repeat) and its hashes
 * packed into one string of their bytes. sha256 and md5 are found through typed hash tables
 * of entry numbers, pHashes through a multi-index Hamming index. Entries are put and dropped
 * whole (an entry's hashes change only with it).
 */
export class BlocklistIndex {
  private readonly numberOf = new Map<string, number>();
  private readonly idOf: (string | undefined)[] = [];
  private readonly hashesOf: (string | undefined)[] = [];
  private reasonOf: Uint32Array<ArrayBuffer> = new Uint32Array(16);
  private readonly reasons: string[] = [];
  private readonly reasonNumbers = new Map<string, number>();
  private readonly freeNumbers: number[] = [];
  private readonly exact = { sha256: new DigestTable(), md5: new DigestTable() };
  private readonly phashes: PhashIndex;
  private hashCount = 0;

  constructor(private readonly maxDistance: number) {
    this.phashes = new PhashIndex(maxDistance);
  }

  get size(): { entries: number; hashes: number } {
    return { entries: this.numberOf.size, hashes: this.hashCount };
  }

  /** Builds the pHash tables now (a lookup would, after many additions), so the first upload after a load does not wait for it. */
  prepare(): void {
    this.phashes.matches(0n, 0);
  }

  /** Adds the entry, replacing what was indexed under its id; hashes that are not valid hex of their length are left out. */
  put(entry: IndexedEntry): void {
    this.drop(entry.id);
    const number = this.freeNumbers.pop() ?? this.idOf.length;
    const parts: string[] = [];
    for (const { algorithm, hash } of entry.hashes) {
      const bytes = bytesOf(algorithm, hash);
      if (!bytes) continue;
      parts.push(TAGS[algorithm], bytes.toString('latin1'));
      this.hashCount++;
      if (algorithm === 'phash') this.phashes.add(number, bytes.readBigUInt64BE());
      else this.exact[algorithm].add(number, bytes.readUInt32BE());
    }
    const packed = parts.join(''); // one flat string (+= would keep a tree of the pieces)
    this.numberOf.set(entry.id, number);
    this.idOf[number] = entry.id;
    this.hashesOf[number] = packed;
    if (number >= this.reasonOf.length) this.reasonOf = grown(this.reasonOf);
    this.reasonOf[number] = this.intern(entry.reason);
  }

  drop(id: string): void {
    const number = this.numberOf.get(id);
    if (number === undefined) return;
    const hashes = unpack(this.hashesOf[number] ?? '');
    for (const { algorithm, bytes } of hashes) {
      if (algorithm === 'phash') this.phashes.remove(number, bytes.readBigUInt64BE());
      else this.exact[algorithm].remove(number, bytes.readUInt32BE());
    }
    this.numberOf.delete(id);
    this.idOf[number] = undefined;
    this.hashesOf[number] = undefined;
    this.freeNumbers.push(number);
    this.hashCount -= hashes.length;
  }

  /** An exact sha256 match first, then md5, then the nearest pHash within the distance; among equals, the smallest entry id. */
  match(hashes: FileHashes): BlockMatch | undefined {
    for (const algorithm of ['sha256', 'md5'] as const) {
      for (const hash of hashes[algorithm]) {
        const bytes = hash ? bytesOf(algorithm, hash.toLowerCase()) : undefined;
        if (!bytes) continue;
        const holders = this.exact[algorithm]
          .candidates(bytes.readUInt32BE())
          .filter((number) =>
            unpack(this.hashesOf[number] ?? '').some(
              (held) => held.algorithm === algorithm && held.bytes.equals(bytes),
            ),
          );
        const entryId = smallest(holders.map((number) => this.idOf[number] as string));
        if (entryId) return this.found(entryId, { algorithm, hash: hash.toLowerCase() }, 0);
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
    const distance = matches[0]?.distance;
    const entryId = smallest(
      matches.filter((match) => match.distance === distance).map(({ id }) => this.idOf[id] as string),
    );
    return entryId === undefined ? undefined : { entryId, distance };
  }

  /** Which of the entry's pHashes is `distance` bits from the query, as hex. */
  private blockedPhash(entryId: string, query: bigint, distance: number): string {
    const number = this.numberOf.get(entryId) as number;
    const hit = unpack(this.hashesOf[number] ?? '').find(
      ({ algorithm, bytes }) => algorithm === 'phash' && hammingDistance(bytes.readBigUInt64BE(), query) === distance,
    );
    return hit?.bytes.toString('hex') ?? '';
  }

  private found(entryId: string, hash: BlockedHash, distance: number): BlockMatch {
    const number = this.numberOf.get(entryId) as number;
    return { entryId, reason: this.reasons[this.reasonOf[number]], ...hash, distance };
  }

  /** Reasons repeat across entries (one per moderation category): each distinct one is kept once. */
  private intern(reason: string): number {
    let number = this.reasonNumbers.get(reason);
    if (number === undefined) {
      number = this.reasons.push(reason) - 1;
      this.reasonNumbers.set(reason, number);
    }
    return number;
  }
}

/** The hash's bytes, or undefined unless it is lowercase hex of its algorithm's length (a pHash: 16 digits). */
function bytesOf(algorithm: HashAlgorithm, hash: string): Buffer | undefined {
  if (algorithm === 'phash') {
    const value = fromHex(hash);
    if (value === undefined) return undefined;
    const bytes = Buffer.alloc(8);
    bytes.writeBigUInt64BE(value);
    return bytes;
  }
  return hash.length === 2 * BYTES[algorithm] && /^[0-9a-f]+$/.test(hash) ? Buffer.from(hash, 'hex') : undefined;
}

function unpack(packed: string): { algorithm: HashAlgorithm; bytes: Buffer }[] {
  const hashes: { algorithm: HashAlgorithm; bytes: Buffer }[] = [];
  for (let at = 0; at < packed.length;) {
    const algorithm = ALGORITHMS[packed[at]];
    const end = at + 1 + BYTES[algorithm];
    hashes.push({ algorithm, bytes: Buffer.from(packed.slice(at + 1, end), 'latin1') });
    at = end;
  }
  return hashes;
}

const smallest = (ids: string[]): string | undefined =>
  ids.length === 0 ? undefined : ids.reduce((a, b) => (b < a ? b : a));

function grown(old: Uint32Array): Uint32Array<ArrayBuffer> {
  const bigger = new Uint32Array(2 * old.length);
  bigger.set(old);
  return bigger;
}
