import { MediaError } from '../errors.js';
import { type RandomAccess, readExactly } from './random-access.js';

const SIGNATURE = Buffer.from('d0cf11e0a1b11ae1', 'hex');
const END_OF_CHAIN = 0xfffffffe;
const HEADER_DIFAT_ENTRIES = 109;

const corrupt = (why: string) => new MediaError('CORRUPT_FILE', `The OLE structure is damaged: ${why}`);

/**
 * Lists the stream names of an OLE2 compound file ([MS-CFB] 2.2, 2.6) by walking the
 * directory chain through the FAT, reading only the sectors it needs.
 */
export async function readOleStreamNames(file: RandomAccess): Promise<string[]> {
  const header = await readExactly(file, 0, 512);
  if (!header.subarray(0, 8).equals(SIGNATURE)) throw corrupt('bad signature');
  const shift = header.readUInt16LE(0x1e);
  if (shift !== 9 && shift !== 12) throw corrupt('bad sector size');
  const sectorSize = 1 << shift;
  const maxSectors = Math.ceil(file.size / sectorSize);
  const sector = (n: number) => {
    if (n >= maxSectors) throw corrupt('sector outside the file');
    return readExactly(file, (n + 1) * sectorSize, sectorSize);
  };
  const fatSectorOf = difatReader(header, sectorSize, sector);
  const next = async (n: number) => {
    const perSector = sectorSize / 4;
    const fat = await sector(await fatSectorOf(Math.floor(n / perSector)));
    return fat.readUInt32LE((n % perSector) * 4);
  };
  const names: string[] = [];
  let current = header.readUInt32LE(0x30);
  for (let hops = 0; current !== END_OF_CHAIN; hops++) {
    if (hops > maxSectors) throw corrupt('directory chain loops');
    const entries = await sector(current);
    for (let at = 0; at < sectorSize; at += 128) {
      const nameBytes = Math.min(entries.readUInt16LE(at + 64), 64);
      const kind = entries[at + 66];
      if (kind === 2 && nameBytes >= 2) names.push(entries.toString('utf16le', at, at + nameBytes - 2));
    }
    current = await next(current);
  }
  return names;
}

/** Returns a function that maps the i-th FAT sector to its location, following the DIFAT chain. */
function difatReader(header: Buffer, sectorSize: number, sector: (n: number) => Promise<Buffer>) {
  const perDifatSector = sectorSize / 4 - 1;
  return async (index: number): Promise<number> => {
    if (index < HEADER_DIFAT_ENTRIES) return header.readUInt32LE(0x4c + index * 4);
    let remaining = index - HEADER_DIFAT_ENTRIES;
    let current = header.readUInt32LE(0x44);
    for (;;) {
      if (current === END_OF_CHAIN) throw corrupt('DIFAT chain too short');
      const difat = await sector(current);
      if (remaining < perDifatSector) return difat.readUInt32LE(remaining * 4);
      remaining -= perDifatSector;
      current = difat.readUInt32LE(perDifatSector * 4);
    }
  };
}
