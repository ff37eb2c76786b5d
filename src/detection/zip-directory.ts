import { MediaError } from '../errors.js';
import { type RandomAccess, readExactly } from './random-access.js';

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL_ENTRY = 0x02014b50;
const MAX_DIRECTORY_BYTES = 16 * 1024 * 1024;

/** A ZIP whose records do not hold together: 422 CORRUPT_FILE. */
export const damagedZip = (why: string) => new MediaError('CORRUPT_FILE', `The ZIP structure is damaged: ${why}`);
const corrupt = damagedZip;

export interface ZipEntry {
  name: string;
  /** The name as stored (compared byte for byte with the local header's). */
  nameBytes: Buffer;
  /** Compression method: 0 stored, 8 deflated (APPNOTE 4.4.5). */
  method: number;
  /** General purpose bit flags (bit 0 encrypted, bit 3 sizes and CRC in a data descriptor). */
  flags: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  /** Where the entry's local header starts. */
  offset: number;
  encrypted: boolean;
  /** A Unix symbolic link (made on Unix, mode S_IFLNK). */
  symlink: boolean;
}

const ZIP64_EXTRA = 0x0001;
const STORED = 0;
const UNIX = 3;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

/**
 * The entries of a ZIP file's central directory (PKWARE APPNOTE 4.3.12-4.3.16), with the
 * sizes it declares (ZIP64 included). Only the directory is read: zip-entry.ts checks each
 * entry's local header and data against it.
 */
export async function readZipEntries(file: RandomAccess): Promise<ZipEntry[]> {
  const { offset, length, count } = await locateDirectory(file);
  if (length > MAX_DIRECTORY_BYTES) throw corrupt('central directory too large');
  const directory = await readExactly(file, offset, length);
  const entries: ZipEntry[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 46 > directory.length || directory.readUInt32LE(at) !== CENTRAL_ENTRY)
      throw corrupt('bad directory entry');
    const nameLength = directory.readUInt16LE(at + 28);
    const extraLength = directory.readUInt16LE(at + 30);
    const next = at + 46 + nameLength + extraLength + directory.readUInt16LE(at + 32);
    if (next > directory.length) throw corrupt('directory entry past its end');
    const sizes = {
      uncompressedSize: directory.readUInt32LE(at + 24),
      compressedSize: directory.readUInt32LE(at + 20),
      offset: directory.readUInt32LE(at + 42),
    };
    readZip64Extra(directory.subarray(at + 46 + nameLength, at + 46 + nameLength + extraLength), sizes);
    const flags = directory.readUInt16LE(at + 8);
    const method = directory.readUInt16LE(at + 10);
    if (method === STORED && (flags & 1) === 0 && sizes.compressedSize !== sizes.uncompressedSize)
      throw corrupt('a stored entry with two sizes');
    entries.push({
      name: directory.toString('utf8', at + 46, at + 46 + nameLength),
      nameBytes: Buffer.from(directory.subarray(at + 46, at + 46 + nameLength)),
      method,
      flags,
      crc32: directory.readUInt32LE(at + 16),
      ...sizes,
      encrypted: (flags & 1) === 1,
      symlink: directory[at + 5] === UNIX && ((directory.readUInt32LE(at + 38) >>> 16) & S_IFMT) === S_IFLNK,
    });
    at = next;
  }
  return entries;
}

/** Sizes and offset stored as 0xffffffff live in the ZIP64 extra field, in this order (APPNOTE 4.5.3). */
export function readZip64Extra(
  extra: Buffer,
  sizes: { uncompressedSize: number; compressedSize: number; offset: number },
): void {
  for (let at = 0; at + 4 <= extra.length;) {
    const id = extra.readUInt16LE(at);
    const size = extra.readUInt16LE(at + 2);
    if (id === ZIP64_EXTRA) {
      let field = at + 4;
      for (const key of ['uncompressedSize', 'compressedSize', 'offset'] as const) {
        if (sizes[key] !== 0xffffffff) continue;
        if (field + 8 > at + 4 + size) throw corrupt('short ZIP64 extra field');
        sizes[key] = Number(extra.readBigUInt64LE(field));
        field += 8;
      }
      return;
    }
    at += 4 + size;
  }
}

async function locateDirectory(file: RandomAccess) {
  const size = file.size;
  const tailLength = Math.min(size, 22 + 0xffff);
  const tail = await readExactly(file, size - tailLength, tailLength);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw corrupt('no end of central directory');
  let count = tail.readUInt16LE(eocd + 10);
  let length = tail.readUInt32LE(eocd + 12);
  let offset = tail.readUInt32LE(eocd + 16);
  if (offset === 0xffffffff || length === 0xffffffff || count === 0xffff) {
    ({ count, length, offset } = await readZip64Record(file, tail, eocd));
  }
  if (offset + length > size) throw corrupt('central directory outside the file');
  return { offset, length, count };
}

async function readZip64Record(file: RandomAccess, tail: Buffer, eocd: number) {
  if (eocd < 20 || tail.readUInt32LE(eocd - 20) !== ZIP64_LOCATOR) throw corrupt('missing ZIP64 locator');
  const recordOffset = Number(tail.readBigUInt64LE(eocd - 20 + 8));
  const record = await readExactly(file, recordOffset, 56);
  if (record.readUInt32LE(0) !== ZIP64_EOCD) throw corrupt('bad ZIP64 record');
  return {
    count: Number(record.readBigUInt64LE(32)),
    length: Number(record.readBigUInt64LE(40)),
    offset: Number(record.readBigUInt64LE(48)),
  };
}
