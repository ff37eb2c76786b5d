import { MediaError } from '../errors.js';
import { type RandomAccess, readExactly } from './random-access.js';

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL_ENTRY = 0x02014b50;
const MAX_DIRECTORY_BYTES = 16 * 1024 * 1024;

const corrupt = (why: string) => new MediaError('CORRUPT_FILE', `The ZIP structure is damaged: ${why}`);

/** Lists the entry names of a ZIP file from its central directory (PKWARE APPNOTE 4.3.12-4.3.16). */
export async function readZipEntryNames(file: RandomAccess): Promise<string[]> {
  const { offset, length, count } = await locateDirectory(file);
  if (length > MAX_DIRECTORY_BYTES) throw corrupt('central directory too large');
  const directory = await readExactly(file, offset, length);
  const names: string[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 46 > directory.length || directory.readUInt32LE(at) !== CENTRAL_ENTRY) throw corrupt('bad directory entry');
    const nameLength = directory.readUInt16LE(at + 28);
    const next = at + 46 + nameLength + directory.readUInt16LE(at + 30) + directory.readUInt16LE(at + 32);
    if (next > directory.length) throw corrupt('directory entry past its end');
    names.push(directory.toString('utf8', at + 46, at + 46 + nameLength));
    at = next;
  }
  return names;
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
