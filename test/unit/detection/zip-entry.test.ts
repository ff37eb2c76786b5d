import { deflateRawSync } from 'node:zlib';
import type { RandomAccess } from '../../../src/detection/random-access';
import { readZipEntries, type ZipEntry } from '../../../src/detection/zip-directory';
import { inflateEntry, localHeaderMismatch, locateEntryData, readEntry } from '../../../src/detection/zip-entry';
import { isMediaError } from '../../../src/errors';
import { makeZip } from '../../support/zip';

const access = (bytes: Buffer): RandomAccess => ({
  size: bytes.length,
  read: async (position, length) => bytes.subarray(position, position + length),
});
const LOCAL = Buffer.from([0x50, 0x4b, 0x03, 0x04]);
const CENTRAL = Buffer.from([0x50, 0x4b, 0x01, 0x02]);

/** The error code and message a promise fails with. */
async function failure(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (isMediaError(error)) return `${error.code} ${error.message}`;
    throw error;
  }
  return 'no failure';
}

async function firstEntry(zip: Buffer): Promise<ZipEntry> {
  return (await readZipEntries(access(zip)))[0];
}

describe('localHeaderMismatch', () => {
  const zip = () => makeZip([{ name: 'docs/readme.txt', data: Buffer.from('hello '.repeat(100)), deflate: true }]);
  const localOf = (bytes: Buffer) => bytes.subarray(0, 30 + bytes.readUInt16LE(26) + bytes.readUInt16LE(28));

  it('accepts a local header that agrees with the directory', async () => {
    const bytes = zip();
    expect(localHeaderMismatch(await firstEntry(bytes), localOf(bytes))).toBeUndefined();
  });

  it.each([
    ['no signature', (b: Buffer) => b.writeUInt32LE(0, 0), /no local header/],
    ['another name of the same length', (b: Buffer) => b.write('../../readme', 30, 'latin1'), /names another file/],
    ['another method', (b: Buffer) => b.writeUInt16LE(0, 8), /how the entry is stored/],
    ['the encryption flag', (b: Buffer) => b.writeUInt16LE(b.readUInt16LE(6) | 1, 6), /how the entry is stored/],
    ['another CRC', (b: Buffer) => b.writeUInt32LE(1, 14), /other sizes/],
    ['another compressed size', (b: Buffer) => b.writeUInt32LE(3, 18), /other sizes/],
    ['another uncompressed size', (b: Buffer) => b.writeUInt32LE(1024, 22), /other sizes/],
  ])('reports %s', async (_label, lie, why) => {
    const bytes = zip();
    const entry = await firstEntry(bytes);
    lie(bytes);
    expect(localHeaderMismatch(entry, localOf(bytes))).toMatch(why);
  });

  it('does not compare sizes deferred to a data descriptor (flag bit 3 in both records)', async () => {
    const bytes = zip();
    bytes.writeUInt16LE(bytes.readUInt16LE(6) | 8, 6);
    const central = bytes.indexOf(CENTRAL);
    bytes.writeUInt16LE(bytes.readUInt16LE(central + 8) | 8, central + 8);
    bytes.fill(0, 14, 26); // CRC and sizes zero in the local header
    expect(localHeaderMismatch(await firstEntry(bytes), localOf(bytes))).toBeUndefined();
  });

  it('reports a header cut short', async () => {
    const bytes = zip();
    expect(localHeaderMismatch(await firstEntry(bytes), bytes.subarray(0, 35))).toMatch(/cut short/);
  });
});

describe('locateEntryData', () => {
  it('returns where the data starts, past the local name and extra field', async () => {
    const bytes = makeZip([
      { name: 'a.txt', data: Buffer.from('abc') },
      { name: 'bb.txt', data: Buffer.from('def') },
    ]);
    const [, second] = await readZipEntries(access(bytes));
    const start = await locateEntryData(access(bytes), second);
    expect(bytes.toString('latin1', start, start + 3)).toBe('def');
  });

  it('refuses a directory entry pointing where no local header is', async () => {
    const bytes = makeZip([{ name: 'a.txt', data: Buffer.from('abc') }]);
    const entry = { ...(await firstEntry(bytes)), offset: 5 };
    expect(await failure(locateEntryData(access(bytes), entry))).toMatch(
      /^CORRUPT_FILE The ZIP structure is damaged: no local header/,
    );
  });

  it('reads only the local header of a stored entry, not its data', async () => {
    const bytes = makeZip([{ name: 'big.bin', data: Buffer.alloc(4 * 1024 * 1024, 7) }]);
    const entry = await firstEntry(bytes);
    let read = 0;
    const counting: RandomAccess = {
      size: bytes.length,
      read: async (position, length) => ((read += length), bytes.subarray(position, position + length)),
    };
    await locateEntryData(counting, entry);
    expect(read).toBeLessThan(100);
  });
});

describe('inflateEntry', () => {
  const data = Buffer.alloc(4 * 1024 * 1024, 0x20);

  it('inflates an entry to exactly its declared size and CRC', async () => {
    const bytes = makeZip([{ name: 'spaces.txt', data, deflate: true }]);
    const entry = await firstEntry(bytes);
    let produced = 0;
    await inflateEntry(access(bytes), entry, await locateEntryData(access(bytes), entry), {
      onChunk: (chunk) => (produced += chunk.length),
    });
    expect(produced).toBe(data.length);
  });

  it('stops one chunk past a declared size that is a lie, and refuses the entry', async () => {
    const bytes = makeZip([{ name: 'spaces.txt', data, deflate: true }]);
    bytes.writeUInt32LE(1024, 22);
    bytes.writeUInt32LE(1024, bytes.indexOf(CENTRAL) + 24);
    const entry = await firstEntry(bytes);
    let passed = 0;
    const why = await failure(
      inflateEntry(access(bytes), entry, await locateEntryData(access(bytes), entry), {
        onChunk: (chunk) => (passed += chunk.length),
      }),
    );
    expect(why).toBe('CORRUPT_FILE The ZIP structure is damaged: an entry inflates to more than its declared size');
    expect(passed).toBeLessThanOrEqual(1024);
  });

  it('refuses output shorter than declared, a wrong CRC, and data that does not inflate', async () => {
    const short = makeZip([{ name: 'a.txt', data: Buffer.from('abc'), deflate: true }]);
    const wrongCrc = makeZip([{ name: 'a.txt', data: Buffer.from('abc'), deflate: true }]);
    const entryOf = async (bytes: Buffer, change: Partial<ZipEntry>) => ({ ...(await firstEntry(bytes)), ...change });
    const run = async (bytes: Buffer, entry: ZipEntry) =>
      failure(inflateEntry(access(bytes), entry, 30 + entry.nameBytes.length));
    expect(await run(short, await entryOf(short, { uncompressedSize: 4 }))).toMatch(
      /inflates to other data than declared/,
    );
    expect(await run(wrongCrc, await entryOf(wrongCrc, { crc32: 1 }))).toMatch(/inflates to other data than declared/);
    const garbage = Buffer.concat([
      makeZip([{ name: 'a.txt', data: Buffer.alloc(8, 0xff) }]).subarray(0, 30 + 5),
      Buffer.alloc(8, 0xff),
    ]);
    const entry = await entryOf(short, { compressedSize: 8, uncompressedSize: 8 });
    expect(await failure(inflateEntry(access(garbage), entry, 35))).toMatch(/does not inflate/);
  });
});

describe('readEntry', () => {
  const tooLarge = () => new Error('too large');

  it('returns a stored or deflated entry whole', async () => {
    for (const deflate of [false, true]) {
      const bytes = makeZip([{ name: 'x.xml', data: Buffer.from('<x/>'), deflate }]);
      expect((await readEntry(access(bytes), await firstEntry(bytes), 100, tooLarge)).toString()).toBe('<x/>');
    }
  });

  it('refuses an entry declared larger than the bound before reading it', async () => {
    const bytes = makeZip([{ name: 'x.xml', data: Buffer.alloc(200), deflate: true }]);
    await expect(readEntry(access(bytes), await firstEntry(bytes), 100, tooLarge)).rejects.toThrow('too large');
  });

  it('checks the local header first', async () => {
    const bytes = makeZip([{ name: 'x.xml', data: Buffer.from('<x/>') }]);
    bytes.write('y', bytes.indexOf(LOCAL) + 30, 'latin1');
    expect(await failure(readEntry(access(bytes), await firstEntry(bytes), 100, tooLarge))).toMatch(
      /names another file/,
    );
  });
});

describe('readZipEntries', () => {
  it('refuses a stored entry whose two sizes differ', async () => {
    const bytes = makeZip([{ name: 'a.txt', data: Buffer.from('abc') }]);
    bytes.writeUInt32LE(5000, bytes.indexOf(CENTRAL) + 24);
    expect(await failure(readZipEntries(access(bytes)))).toMatch(/a stored entry with two sizes/);
  });

  it('reads method, flags, CRC and the raw name', async () => {
    const entry = await firstEntry(makeZip([{ name: 'é.txt', data: Buffer.from('abc'), deflate: true }]));
    expect(entry).toMatchObject({
      name: 'é.txt',
      method: 8,
      crc32: 0x352441c2,
      compressedSize: deflateRawSync(Buffer.from('abc'), { level: 9 }).length,
    });
    expect(entry.nameBytes.equals(Buffer.from('é.txt'))).toBe(true);
  });
});
