import { closeSync, openSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';

/**
 * A valid ZIP with one stored entry of random bytes, `size` bytes in all (give or take the
 * headers), as its parts in order. (test/support/zip.ts writes hostile ZIPs in memory
 * for the tests; the build must not depend on test/, so the benches keep this one.)
 */
export function zipParts(size: number, random: (n: number) => Buffer): Buffer[] {
  const name = Buffer.from('data.bin');
  const data = random(size - 30 - 46 - 22 - 2 * name.length);
  const crc = crc32(data);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(name.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(name.length, 28);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(46 + name.length, 12);
  end.writeUInt32LE(30 + name.length + data.length, 16);
  return [local, name, data, central, name, end];
}

/** The same ZIP in one buffer. */
export function makeZipBuffer(size: number, random: (n: number) => Buffer): Buffer {
  return Buffer.concat(zipParts(size, random));
}

/** The same ZIP written straight to disk. */
export function makeZipFile(path: string, size: number, random: (n: number) => Buffer): void {
  const fd = openSync(path, 'w');
  for (const part of zipParts(size, random)) writeSync(fd, part);
  closeSync(fd);
}
