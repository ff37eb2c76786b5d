import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32, createInflateRaw } from 'node:zlib';
import { isMediaError } from '../errors.js';
import { type RandomAccess, readExactly } from './random-access.js';
import { damagedZip, readZip64Extra, type ZipEntry } from './zip-directory.js';

/*
 * One entry of a ZIP file, read the way an extracting tool reads it: from its local header,
 * which must tell the same story as the central directory, then its data, which must
 * inflate to exactly the declared size and CRC-32. A lie in either record is CORRUPT_FILE.
 */

const LOCAL_HEADER = 0x04034b50;
const LOCAL_HEADER_BYTES = 30;
const ENCRYPTED = 0x0001;
const DATA_DESCRIPTOR = 0x0008;
export const STORED = 0;
export const DEFLATED = 8;
const READ_CHUNK = 1024 * 1024;

/**
 * Why the local header `local` (its 30 fixed bytes, name and extra field, APPNOTE 4.3.7)
 * contradicts the central directory's `entry`, or undefined when both agree: signature,
 * name (byte for byte), method, the encryption and data-descriptor flags, and, unless the
 * sizes are deferred to a data descriptor, CRC-32 and both sizes (ZIP64 included).
 */
export function localHeaderMismatch(entry: ZipEntry, local: Buffer): string | undefined {
  if (local.length < LOCAL_HEADER_BYTES || local.readUInt32LE(0) !== LOCAL_HEADER)
    return 'no local header where the directory points';
  const nameEnd = LOCAL_HEADER_BYTES + local.readUInt16LE(26);
  const extraEnd = nameEnd + local.readUInt16LE(28);
  if (local.length < extraEnd) return 'a local header is cut short';
  if (!local.subarray(LOCAL_HEADER_BYTES, nameEnd).equals(entry.nameBytes))
    return 'a local header names another file than the directory';
  const flags = local.readUInt16LE(6);
  if (local.readUInt16LE(8) !== entry.method || ((flags ^ entry.flags) & (ENCRYPTED | DATA_DESCRIPTOR)) !== 0) {
    return 'a local header disagrees with the directory on how the entry is stored';
  }
  if (flags & DATA_DESCRIPTOR) return undefined;
  const sizes = { compressedSize: local.readUInt32LE(18), uncompressedSize: local.readUInt32LE(22), offset: 0 };
  readZip64Extra(local.subarray(nameEnd, extraEnd), sizes);
  const same =
    local.readUInt32LE(14) === entry.crc32 &&
    sizes.compressedSize === entry.compressedSize &&
    sizes.uncompressedSize === entry.uncompressedSize;
  return same ? undefined : 'a local header declares other sizes than the directory';
}

/**
 * Reads and checks `entry`'s local header (two small reads, never its data) and returns
 * where its data starts; CORRUPT_FILE when the header contradicts the directory or the
 * data would run past the end of the file.
 */
export async function locateEntryData(file: RandomAccess, entry: ZipEntry): Promise<number> {
  const fixed = await readExactly(file, entry.offset, LOCAL_HEADER_BYTES);
  if (fixed.readUInt32LE(0) !== LOCAL_HEADER) throw damagedZip('no local header where the directory points');
  const variableLength = fixed.readUInt16LE(26) + fixed.readUInt16LE(28);
  const local = Buffer.concat([fixed, await readExactly(file, entry.offset + LOCAL_HEADER_BYTES, variableLength)]);
  const mismatch = localHeaderMismatch(entry, local);
  if (mismatch) throw damagedZip(mismatch);
  const start = entry.offset + LOCAL_HEADER_BYTES + variableLength;
  if (start + entry.compressedSize > file.size) throw damagedZip('an entry runs past the end of the file');
  return start;
}

export interface InflateOptions {
  /** Receives each piece of output, once it is known to be within the declared size. */
  onChunk?: (chunk: Buffer) => void;
  signal?: AbortSignal;
}

/**
 * Inflates a deflated entry whose data starts at `start`. Stops with CORRUPT_FILE as soon
 * as the output passes the declared size (so a lying header costs at most that size plus
 * one chunk), or when the output's length or CRC-32 is not the declared one, or the data
 * does not inflate.
 */
export async function inflateEntry(
  file: RandomAccess,
  entry: ZipEntry,
  start: number,
  options: InflateOptions = {},
): Promise<void> {
  const { onChunk = () => {}, signal } = options;
  let produced = 0;
  let crc = 0;
  const check = new Writable({
    write(chunk: Buffer, _encoding, done) {
      produced += chunk.length;
      if (produced > entry.uncompressedSize)
        return done(damagedZip('an entry inflates to more than its declared size'));
      crc = crc32(chunk, crc);
      onChunk(chunk);
      done();
    },
  });
  try {
    await pipeline(
      Readable.from(chunksOf(file, start, entry.compressedSize)),
      createInflateRaw({ chunkSize: 256 * 1024 }),
      check,
      { signal },
    );
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw isMediaError(error) ? error : damagedZip('an entry does not inflate');
  }
  if (produced !== entry.uncompressedSize || crc !== entry.crc32)
    throw damagedZip('an entry inflates to other data than declared');
}

/**
 * The whole content of a stored or deflated, unencrypted entry, at most `maxBytes` of it
 * (a larger declared size is refused by `tooLarge` before anything is read).
 */
export async function readEntry(
  file: RandomAccess,
  entry: ZipEntry,
  maxBytes: number,
  tooLarge: () => Error,
): Promise<Buffer> {
  if (entry.uncompressedSize > maxBytes) throw tooLarge();
  if (entry.encrypted || (entry.method !== STORED && entry.method !== DEFLATED))
    throw damagedZip('an entry that must be read is encrypted or compressed in an unknown way');
  const start = await locateEntryData(file, entry);
  if (entry.method === STORED) return readExactly(file, start, entry.compressedSize);
  const chunks: Buffer[] = [];
  await inflateEntry(file, entry, start, { onChunk: (chunk) => chunks.push(chunk) });
  return Buffer.concat(chunks);
}

/** `length` bytes of `file` from `start`, in chunks of at most 1 MiB. */
async function* chunksOf(file: RandomAccess, start: number, length: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < length; at += READ_CHUNK)
    yield await readExactly(file, start + at, Math.min(READ_CHUNK, length - at));
}
