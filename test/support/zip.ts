import { crc32, deflateRawSync } from 'node:zlib';

export interface ZipSpec {
  name: string;
  data?: Buffer;
  deflate?: boolean;
  /** Unix mode of the entry (made on Unix), e.g. 0o120777 for a symlink. */
  mode?: number;
  encrypted?: boolean;
  /** Point the central entry at another entry's local header (an overlapping entry). */
  sameDataAs?: number;
}

/** Writes a ZIP file by the book (APPNOTE 4.3), so tests can make hostile ones. */
export function makeZip(specs: ZipSpec[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  const offsets: number[] = [];
  let offset = 0;
  specs.forEach((spec, i) => {
    const data = spec.data ?? Buffer.alloc(0);
    const body = spec.deflate ? deflateRawSync(data, { level: 9 }) : data;
    const name = Buffer.from(spec.name);
    const flags = (spec.encrypted ? 1 : 0) | 0x0800;
    const fields = { method: spec.deflate ? 8 : 0, crc: crc32(data), compressed: body.length, size: data.length };
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(fields.method, 8);
    local.writeUInt32LE(fields.crc, 14);
    local.writeUInt32LE(fields.compressed, 18);
    local.writeUInt32LE(fields.size, 22);
    local.writeUInt16LE(name.length, 26);
    offsets.push(offset);
    if (spec.sameDataAs === undefined) {
      locals.push(local, name, body);
      offset += 30 + name.length + body.length;
    }
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(fields.method, 10);
    central.writeUInt32LE(fields.crc, 16);
    central.writeUInt32LE(fields.compressed, 20);
    central.writeUInt32LE(fields.size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(((spec.mode ?? 0o100644) << 16) >>> 0, 38);
    central.writeUInt32LE(spec.sameDataAs === undefined ? offsets[i] : offsets[spec.sameDataAs], 42);
    centrals.push(central, name);
  });
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(specs.length, 8);
  end.writeUInt16LE(specs.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}
