import { MediaError } from '../../errors.js';

export interface ArchiveEntry {
  name: string;
  compressedSize: number;
  uncompressedSize: number;
  encrypted: boolean;
  symlink: boolean;
  /** ZIP only: where the entry's local header starts. */
  offset?: number;
}

export interface ArchiveLimits {
  maxEntries: number;
  maxUncompressedBytes: number;
  /** Uncompressed / compressed size of one entry, past which it is a bomb. */
  maxRatio: number;
}

export const ARCHIVE_LIMITS: ArchiveLimits = {
  maxEntries: 10_000,
  maxUncompressedBytes: 4 * 1024 ** 3,
  maxRatio: 1000,
};

/** CORRUPT_FILE with the reason an archive is refused. */
export const refuse = (why: string) => new MediaError('CORRUPT_FILE', `The archive is refused: ${why}`);

/** Entries and expanded bytes of an archive and of every archive opened inside it, together. */
export interface ArchiveTotals {
  entries: number;
  uncompressedBytes: number;
}

const NESTED = /\.(zip|rar|7z|gz|tgz|bz2|xz|tar|jar|apk|cab|iso)$/i;
/** Below this an entry's ratio does not matter: a run of zeros compresses 1000:1 harmlessly. */
const RATIO_FLOOR_BYTES = 1024 * 1024;

/**
 * Judges an archive by its directory, without extracting it: refuses entries that would
 * land outside the extraction root (absolute, `..`, symbolic links), decompression bombs
 * (a total or a ratio no real archive has, entries overlapping each other's data, too many
 * entries), and reports what a client may want to know.
 */
export function judgeArchive(entries: ArchiveEntry[], limits = ARCHIVE_LIMITS): Record<string, unknown> {
  if (entries.length > limits.maxEntries) throw refuse(`more than ${limits.maxEntries} entries`);
  for (const entry of entries) {
    if (escapesRoot(entry.name)) throw refuse('an entry would be written outside the folder it is extracted to');
    if (entry.symlink) throw refuse('an entry is a symbolic link');
    const ratio = entry.uncompressedSize / Math.max(1, entry.compressedSize);
    if (entry.uncompressedSize > RATIO_FLOOR_BYTES && ratio > limits.maxRatio)
      throw refuse('an entry expands more than any real file does');
  }
  const uncompressedBytes = entries.reduce((sum, entry) => sum + entry.uncompressedSize, 0);
  if (uncompressedBytes > limits.maxUncompressedBytes) throw refuse('it expands to more than 4 GB');
  if (overlaps(entries)) throw refuse('entries share compressed data');
  return {
    entries: entries.length,
    uncompressedBytes,
    encryptedEntries: entries.filter((entry) => entry.encrypted).length,
    nestedArchives: entries.filter((entry) => NESTED.test(entry.name)).length,
  };
}

/**
 * The totals once a (nested) archive's are added to those of everything opened before it;
 * refuses when together they pass the limits one archive may not pass (a 42.zip nest of
 * archives each harmless alone).
 */
export function addToTotals(totals: ArchiveTotals, nested: ArchiveTotals, limits = ARCHIVE_LIMITS): ArchiveTotals {
  const sum = {
    entries: totals.entries + nested.entries,
    uncompressedBytes: totals.uncompressedBytes + nested.uncompressedBytes,
  };
  if (sum.entries > limits.maxEntries) throw refuse(`more than ${limits.maxEntries} entries, nested archives included`);
  if (sum.uncompressedBytes > limits.maxUncompressedBytes)
    throw refuse('it expands to more than 4 GB, nested archives included');
  return sum;
}

function escapesRoot(name: string): boolean {
  if (/^([\\/]|[A-Za-z]:)/.test(name)) return true;
  return name.split(/[\\/]/).includes('..');
}

/** ZIP entries whose data overlaps the next one's local header (the overlapping-file bomb). */
function overlaps(entries: ArchiveEntry[]): boolean {
  const placed = entries.filter((entry) => entry.offset !== undefined).sort((a, b) => a.offset! - b.offset!);
  for (let i = 1; i < placed.length; i++) {
    const previous = placed[i - 1];
    // 30 bytes of local header and the name come before the data; the local extra field only adds to it.
    if (previous.offset! + 30 + Buffer.byteLength(previous.name) + previous.compressedSize > placed[i].offset!)
      return true;
  }
  return false;
}
