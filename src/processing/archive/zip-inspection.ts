import { type RandomAccess, readExactly } from '../../detection/random-access.js';
import { readZipEntries, type ZipEntry } from '../../detection/zip-directory.js';
import { DEFLATED, inflateEntry, locateEntryData, STORED } from '../../detection/zip-entry.js';
import {
  addToTotals,
  ARCHIVE_LIMITS,
  type ArchiveLimits,
  type ArchiveTotals,
  judgeArchive,
  refuse,
} from './archive-verdict.js';

/** ZIPs inside ZIPs are opened this many levels down; one deeper is refused. */
export const MAX_NESTING_DEPTH = 3;
/** A deflated nested ZIP is inflated into memory to be read at random: at most this much of it. */
const MAX_NESTED_INFLATED_BYTES = 32 * 1024 * 1024;
const LOCAL_HEADER = 0x04034b50;
/** An empty ZIP: its end record alone. */
const MIN_ZIP_BYTES = 22;

/**
 * Judges a ZIP the way an extracting tool would meet it: its directory (judgeArchive), then
 * every entry's local header against the directory, every deflated entry's real size and
 * CRC-32 (inflation stops one chunk past the declared size), and every ZIP inside it, down
 * to MAX_NESTING_DEPTH, with the entries and expansion of all levels counted together.
 * Stored entries are never read beyond their header (and four bytes to spot a nested ZIP).
 * Returns the outer archive's summary.
 */
export async function inspectZip(
  file: RandomAccess,
  signal: AbortSignal,
  limits: ArchiveLimits = ARCHIVE_LIMITS,
): Promise<Record<string, unknown>> {
  return inspectLevel(file, 0, { totals: { entries: 0, uncompressedBytes: 0 }, limits, signal });
}

/** What every level of one inspection shares. */
interface Inspection {
  totals: ArchiveTotals;
  limits: ArchiveLimits;
  signal: AbortSignal;
}

async function inspectLevel(
  file: RandomAccess,
  depth: number,
  inspection: Inspection,
): Promise<Record<string, unknown>> {
  const { limits } = inspection;
  const entries = await readZipEntries(file);
  const summary = judgeArchive(entries, limits);
  inspection.totals = addToTotals(
    inspection.totals,
    { entries: entries.length, uncompressedBytes: summary.uncompressedBytes as number },
    limits,
  );
  let previousEnd = 0;
  // In file order: the decrypting reader then decrypts each segment once.
  for (const entry of [...entries].sort((a, b) => a.offset - b.offset)) {
    if (entry.offset < previousEnd) throw refuse('entries share compressed data');
    const { dataEnd, nested } = await checkEntry(file, entry, inspection.signal);
    previousEnd = dataEnd;
    if (!nested) continue;
    if (depth + 1 > MAX_NESTING_DEPTH) throw refuse(`archives are nested more than ${MAX_NESTING_DEPTH} levels deep`);
    await inspectLevel(nested, depth + 1, inspection);
  }
  return summary;
}

/**
 * Checks one entry's local header and, when deflated, that it inflates to its declared
 * size and CRC-32. Returns where its data ends, and its content for reading at random when
 * it is a ZIP (stored: a window on `file`; deflated: the inflated bytes, at most 32 MiB).
 */
async function checkEntry(
  file: RandomAccess,
  entry: ZipEntry,
  signal: AbortSignal,
): Promise<{ dataEnd: number; nested?: RandomAccess }> {
  const start = await locateEntryData(file, entry);
  const dataEnd = start + entry.compressedSize;
  if (entry.encrypted) return { dataEnd };
  if (entry.method === STORED) {
    const head = await readExactly(file, start, Math.min(4, entry.compressedSize));
    return { dataEnd, nested: isZip(entry, head) ? windowOf(file, start, entry.compressedSize) : undefined };
  }
  if (entry.method !== DEFLATED) throw refuse('an entry is compressed with a method whose output cannot be checked');
  const kept: Buffer[] = [];
  let nested: boolean | undefined;
  const onChunk = (chunk: Buffer) => {
    nested ??= isZip(entry, chunk);
    if (nested && entry.uncompressedSize <= MAX_NESTED_INFLATED_BYTES) kept.push(chunk);
  };
  await inflateEntry(file, entry, start, { onChunk, signal });
  if (!nested) return { dataEnd };
  if (entry.uncompressedSize > MAX_NESTED_INFLATED_BYTES) throw refuse('a nested archive is too large to inspect');
  return { dataEnd, nested: bufferAccess(Buffer.concat(kept)) };
}

/** An entry to open as a ZIP: one starting with a local header, or named .zip and large enough to be one. */
function isZip(entry: ZipEntry, head: Buffer): boolean {
  if (head.length >= 4 && head.readUInt32LE(0) === LOCAL_HEADER) return true;
  return /\.zip$/i.test(entry.name) && entry.uncompressedSize >= MIN_ZIP_BYTES;
}

/** `length` bytes of `file` from `start`, read as a file of their own. */
function windowOf(file: RandomAccess, start: number, length: number): RandomAccess {
  return {
    size: length,
    read: (position, count) => {
      const from = Math.min(Math.max(position, 0), length);
      return file.read(start + from, Math.max(0, Math.min(count, length - from)));
    },
  };
}

function bufferAccess(bytes: Buffer): RandomAccess {
  return { size: bytes.length, read: async (position, count) => bytes.subarray(position, position + count) };
}
