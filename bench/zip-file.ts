import { writeFileSync } from 'node:fs';
import { makeZip } from '../test/support/zip.js';

/** A valid ZIP of `size` bytes (give or take its headers): one stored entry of `random` bytes. */
export function makeZipFile(path: string, size: number, random: (n: number) => Buffer): void {
  writeFileSync(path, makeZip([{ name: 'data.bin', data: random(size - 30 - 46 - 22 - 2 * 'data.bin'.length) }]));
}
