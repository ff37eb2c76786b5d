import type { RandomAccess } from '../../../src/detection/random-access';
import { addToTotals, ARCHIVE_LIMITS } from '../../../src/processing/archive/archive-verdict';
import { inspectZip, MAX_NESTING_DEPTH } from '../../../src/processing/archive/zip-inspection';
import { isMediaError } from '../../../src/errors';
import { makeZip, type ZipSpec } from '../../support/zip';

const MB = 1024 * 1024;
const CENTRAL = Buffer.from([0x50, 0x4b, 0x01, 0x02]);
const access = (bytes: Buffer): RandomAccess => ({
  size: bytes.length,
  read: async (position, length) => bytes.subarray(position, position + length),
});
const signal = new AbortController().signal;

/** The archive's summary, or the code and message it is refused with. */
async function inspect(bytes: Buffer, file = access(bytes)): Promise<Record<string, unknown> | string> {
  try {
    return await inspectZip(file, signal);
  } catch (error) {
    if (isMediaError(error)) return `${error.code} ${error.message}`;
    throw error;
  }
}

/** `levels` ZIPs each holding the next (stored, as makeZip does), the innermost holding `leaf`. */
const nest = (levels: number, leaf: ZipSpec[]): Buffer => {
  let zip = makeZip(leaf);
  for (let i = 0; i < levels; i++) zip = makeZip([{ name: `level-${i}.zip`, data: zip }]);
  return zip;
};

describe('inspectZip', () => {
  it('summarises an honest archive, nested ZIPs included', async () => {
    const inner = makeZip([{ name: 'a.txt', data: Buffer.from('a'.repeat(5000)), deflate: true }]);
    const zip = makeZip([
      { name: 'notes.txt', data: Buffer.from('hello') },
      { name: 'inner.zip', data: inner, deflate: true },
    ]);
    expect(await inspect(zip)).toEqual({
      entries: 2,
      uncompressedBytes: 5 + inner.length,
      encryptedEntries: 0,
      nestedArchives: 1,
    });
  });

  it('refuses a 42.zip-style nest: the bomb two levels down', async () => {
    const bomb = makeZip([{ name: 'zeros.bin', data: Buffer.alloc(10 * MB), deflate: true }]);
    const middle = makeZip(Array.from({ length: 4 }, (_, i) => ({ name: `part-${i}.zip`, data: bomb })));
    const outer = makeZip(
      Array.from({ length: 4 }, (_, i) => ({ name: `volume-${i}.bin`, data: middle, deflate: i % 2 === 1 })),
    );
    expect(await inspect(outer)).toBe(
      'CORRUPT_FILE The archive is refused: an entry expands more than any real file does',
    );
  });

  it('adds nested expansion to the total', async () => {
    // Each level alone is under the limits; 3 × 3 × 1 MiB of zeros with a limit of 8 MiB is not.
    const leaf = makeZip([{ name: 'zeros.bin', data: Buffer.alloc(MB), deflate: true }]);
    const middle = makeZip(Array.from({ length: 3 }, (_, i) => ({ name: `m${i}.zip`, data: leaf })));
    const outer = makeZip(Array.from({ length: 3 }, (_, i) => ({ name: `o${i}.zip`, data: middle })));
    const refused = await inspectZip(access(outer), signal, { ...ARCHIVE_LIMITS, maxUncompressedBytes: 8 * MB }).catch(
      (error: Error) => error.message,
    );
    expect(refused).toMatch(/nested archives included/);
  });

  it(`opens ZIPs ${MAX_NESTING_DEPTH} levels down and refuses one more`, async () => {
    expect(await inspect(nest(MAX_NESTING_DEPTH, [{ name: 'a.txt', data: Buffer.from('a') }]))).toMatchObject({
      entries: 1,
    });
    expect(await inspect(nest(MAX_NESTING_DEPTH + 1, [{ name: 'a.txt', data: Buffer.from('a') }]))).toMatch(
      /nested more than 3 levels deep/,
    );
  });

  it('finds a nested ZIP by its bytes, whatever it is named', async () => {
    const inner = makeZip([{ name: '../../etc/passwd', data: Buffer.from('x') }]);
    expect(await inspect(makeZip([{ name: 'photo.jpg', data: inner }]))).toMatch(/outside the folder/);
    expect(await inspect(makeZip([{ name: 'photo.jpg', data: inner, deflate: true }]))).toMatch(/outside the folder/);
  });

  it('refuses an entry that inflates to more than both records declare', async () => {
    const zip = makeZip([{ name: 'notes.txt', data: Buffer.alloc(8 * MB, 0x20), deflate: true }]);
    zip.writeUInt32LE(1024, 22);
    zip.writeUInt32LE(1024, zip.indexOf(CENTRAL) + 24);
    expect(await inspect(zip)).toMatch(
      /^CORRUPT_FILE The ZIP structure is damaged: an entry inflates to more than its declared size/,
    );
  });

  it('refuses a local header naming another file than the directory', async () => {
    const zip = makeZip([{ name: '../../../../tmp/x.sh', data: Buffer.from('id') }]);
    zip.write('docs/readme-file.txt', zip.indexOf(CENTRAL) + 46, 'utf8');
    expect(await inspect(zip)).toMatch(/^CORRUPT_FILE The ZIP structure is damaged: a local header names another file/);
  });

  it('refuses an entry compressed with a method it cannot check', async () => {
    const zip = makeZip([{ name: 'a.bz2', data: Buffer.from('abc'), deflate: true }]);
    zip.writeUInt16LE(12, 8);
    zip.writeUInt16LE(12, zip.indexOf(CENTRAL) + 10);
    expect(await inspect(zip)).toMatch(/method whose output cannot be checked/);
  });

  it('does not read the data of stored entries', async () => {
    const zip = makeZip(Array.from({ length: 8 }, (_, i) => ({ name: `f${i}.bin`, data: Buffer.alloc(4 * MB, i) })));
    let read = 0;
    const counting: RandomAccess = {
      size: zip.length,
      read: async (position, length) => ((read += length), zip.subarray(position, position + length)),
    };
    expect(await inspect(zip, counting)).toMatchObject({ entries: 8 });
    expect(read).toBeLessThan(70 * 1024); // the directory tail search, the directory, 8 local headers
  });

  it('leaves encrypted entries unread', async () => {
    expect(
      await inspect(makeZip([{ name: 'secret.txt', data: Buffer.from('x'.repeat(100)), encrypted: true }])),
    ).toMatchObject({ encryptedEntries: 1 });
  });
});

describe('addToTotals', () => {
  it('adds up and refuses past the limits', () => {
    expect(addToTotals({ entries: 1, uncompressedBytes: 10 }, { entries: 2, uncompressedBytes: 5 })).toEqual({
      entries: 3,
      uncompressedBytes: 15,
    });
    expect(() => addToTotals({ entries: 9_999, uncompressedBytes: 0 }, { entries: 2, uncompressedBytes: 0 })).toThrow(
      /more than 10000 entries/,
    );
    expect(() =>
      addToTotals({ entries: 1, uncompressedBytes: 4 * 1024 ** 3 }, { entries: 1, uncompressedBytes: 1 }),
    ).toThrow(/more than 4 GB/);
  });
});
