import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer as collect } from 'node:stream/consumers';
import { plaintextReader } from '../../../src/crypto/plaintext-reader';
import { openSealedBuffer, SegmentDecryptor } from '../../../src/crypto/segment-decryptor';
import { SegmentEncryptor } from '../../../src/crypto/segment-encryptor';
import { encryptedSize, HEADER_BYTES, segmentCount, segmentSpan, TAG_BYTES } from '../../../src/crypto/segment-format';
import { Slice } from '../../../src/crypto/slice';
import { below, seededRandom } from '../../support/random';

const KEY = Buffer.alloc(32, 7);
const KEY_ID = '00112233-4455-6677-8899-aabbccddeeff';
const PREFIX = Buffer.from('01020304050607', 'hex');
const S = 1024; // small segments so boundaries are cheap to cross

function chunked(data: Buffer, size: number): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) parts.push(data.subarray(i, i + size));
  return Readable.from(parts.length ? parts : [], { objectMode: false });
}

async function seal(
  plain: Buffer,
  options: { segmentSize?: number; key?: Buffer; dataKeyId?: string; chunk?: number } = {},
) {
  const encryptor = new SegmentEncryptor({
    key: options.key ?? KEY,
    dataKeyId: options.dataKeyId ?? KEY_ID,
    segmentSize: options.segmentSize ?? S,
    noncePrefix: PREFIX,
  });
  return collect(chunked(plain, options.chunk ?? 333).pipe(encryptor));
}

async function open(cipher: Buffer, plainSize: number, options: { key?: Buffer; dataKeyId?: string } = {}) {
  const decryptor = new SegmentDecryptor({
    key: options.key ?? KEY,
    dataKeyId: options.dataKeyId ?? KEY_ID,
    segments: (s) => segmentCount(plainSize, s),
  });
  return collect(chunked(cipher, 500).pipe(decryptor));
}

/** The same, opened whole in memory (how a small file is answered). */
async function openWhole(cipher: Buffer, plainSize: number, options: { key?: Buffer; dataKeyId?: string } = {}) {
  return openSealedBuffer(cipher, { key: options.key ?? KEY, dataKeyId: options.dataKeyId ?? KEY_ID, size: plainSize });
}

async function openRange(cipher: Buffer, plainSize: number, start: number, end: number) {
  const span = segmentSpan(plainSize, S, start, end);
  const decryptor = new SegmentDecryptor({
    key: KEY,
    dataKeyId: KEY_ID,
    header: cipher.subarray(0, HEADER_BYTES),
    firstSegment: span.first,
    segments: span.last - span.first + 1,
    endsAtFinal: span.includesFinal,
  });
  return collect(
    chunked(cipher.subarray(span.cipherStart, span.cipherEnd + 1), 700)
      .pipe(decryptor)
      .pipe(new Slice(span.skip, end - start + 1)),
  );
}

function plaintext(n: number, seed = 1): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed * 17) & 0xff;
  return out;
}

describe('segmented AES-256-GCM format v1', () => {
  // Vectors computed from the format description by a separate implementation (Python
  // `cryptography` AESGCM), not by this code: a change that breaks compatibility fails here.
  it('matches the fixed test vectors (a format change must fail here)', async () => {
    const empty = await seal(Buffer.alloc(0));
    expect(empty.toString('hex')).toBe(
      '574d534501000004000102030405060700112233445566778899aabbccddeeff' + 'afc3f2cf61c3f655f159bf02b535ac5f',
    );
    const hello = await seal(Buffer.from('hello, whispr'));
    expect(hello.subarray(HEADER_BYTES).toString('hex')).toBe(
      '6fdefc53c80164aba3c23253eb455fc0ec696b0977508291420564e274',
    );
    const multi = await seal(plaintext(3 * S + 5));
    expect(multi.length).toBe(encryptedSize(3 * S + 5, S));
    expect(createHash('sha256').update(multi).digest('hex')).toBe(
      '6472afe226ecfdfd3ea0384c8e47122e15376da23bf6f7ae758dcf00b3d1e160',
    );
  });

  it('round-trips sizes around segment boundaries, whatever the chunking', async () => {
    const sizes = [0, 1, S - 1, S, S + 1, 2 * S - 1, 2 * S, 2 * S + 1, 5 * S + 17];
    for (const size of sizes) {
      for (const chunk of [1, 100, S, 4096]) {
        const plain = randomBytes(size);
        const cipher = await seal(plain, { chunk });
        expect(cipher.length).toBe(encryptedSize(size, S));
        expect((await open(cipher, size)).equals(plain)).toBe(true);
      }
    }
  });

  it('serves random ranges equal to the plaintext, decrypting only the segments needed', async () => {
    const random = seededRandom(1);
    for (let round = 0; round < 60; round++) {
      const size = 1 + below(random, 8 * S);
      const plain = randomBytes(size);
      const cipher = await seal(plain);
      const start = below(random, size);
      const end = start + below(random, size - start);
      expect((await openRange(cipher, size, start, end)).equals(plain.subarray(start, end + 1))).toBe(true);
      const span = segmentSpan(size, S, start, end);
      expect(span.cipherEnd - span.cipherStart + 1).toBeLessThanOrEqual((span.last - span.first + 1) * (S + TAG_BYTES));
    }
  });

  it('gives random access to the plaintext, reading each needed segment once', async () => {
    const size = 7 * S + 123;
    const plain = randomBytes(size);
    const cipher = await seal(plain);
    let reads = 0;
    const source = async (range: { start: number; end: number }) => {
      reads++;
      return cipher.subarray(range.start, range.end + 1);
    };
    const file = plaintextReader(source, { key: KEY, dataKeyId: KEY_ID, size });
    const random = seededRandom(2);
    for (let i = 0; i < 40; i++) {
      const position = below(random, size);
      const length = 1 + below(random, 3 * S);
      expect((await file.read(position, length)).equals(plain.subarray(position, position + length))).toBe(true);
    }
    expect((await file.read(size - 10, 100)).equals(plain.subarray(size - 10))).toBe(true);
    expect((await file.read(size, 10)).length).toBe(0);
    // The header once, then one source read per segment, whatever the number of reads.
    expect(reads).toBeLessThanOrEqual(1 + 8);
  });

  it('gives random access only to segments that authenticate, the last one as the last', async () => {
    const size = 3 * S + 50;
    const cipher = await seal(randomBytes(size));
    const reader = (bytes: Buffer, blobSize = size) =>
      plaintextReader(async (range) => bytes.subarray(range.start, range.end + 1), {
        key: KEY,
        dataKeyId: KEY_ID,
        size: blobSize,
      });
    const tampered = Buffer.from(cipher);
    tampered[HEADER_BYTES + (S + TAG_BYTES) + 5] ^= 1;
    await expect(reader(tampered).read(S + 1, 10)).rejects.toThrow(/segment 1 failed authentication/);
    expect((await reader(tampered).read(0, 10)).length).toBe(10);
    // Cut after a whole segment: that segment is not the last, and the reader claims it is.
    await expect(reader(cipher.subarray(0, HEADER_BYTES + S + TAG_BYTES), S).read(0, 10)).rejects.toThrow(
      /segment 0 failed authentication/,
    );
    // Cut inside the last segment.
    await expect(reader(cipher.subarray(0, cipher.length - 20)).read(3 * S, 10)).rejects.toThrow(/authentication/);
    // Another file's header.
    const other = Buffer.from(cipher);
    other[20] ^= 1;
    await expect(reader(other).read(0, 10)).rejects.toThrow(/another file/);
  });

  describe('fails closed', () => {
    const size = 4 * S + 100;
    const plain = plaintext(size);
    let cipher: Buffer;
    beforeAll(async () => {
      cipher = await seal(plain);
    });
    const unit = S + TAG_BYTES;
    const segmentAt = (i: number) => HEADER_BYTES + i * unit;

    it('on a flipped bit in any segment, releasing nothing of that segment', async () => {
      const tampered = Buffer.from(cipher);
      tampered[segmentAt(2) + 10] ^= 1;
      const decryptor = new SegmentDecryptor({ key: KEY, dataKeyId: KEY_ID, segments: 5 });
      const received: Buffer[] = [];
      decryptor.on('data', (chunk: Buffer) => received.push(chunk));
      await expect(
        new Promise((resolve, reject) => {
          decryptor.on('end', resolve).on('error', reject);
          chunked(tampered, 500).pipe(decryptor);
        }),
      ).rejects.toThrow(/segment 2 failed authentication/);
      // Exactly the two authenticated segments before it were released.
      expect(Buffer.concat(received).equals(plain.subarray(0, 2 * S))).toBe(true);
    });

    describe.each([
      ['streamed', open],
      ['whole, in memory', openWhole],
    ])('%s', (_, openWay) => {
      it('opens what was sealed', async () => {
        for (const length of [0, 1, S - 1, S, S + 1, size]) {
          const sealed = await seal(plaintext(length, 3));
          expect((await openWay(sealed, length)).equals(plaintext(length, 3))).toBe(true);
        }
      });

      it('on a tampered header', async () => {
        const tampered = Buffer.from(cipher);
        tampered[10] ^= 1; // nonce prefix
        await expect(openWay(tampered, size)).rejects.toThrow(/failed authentication/);
      });

      it('on truncation at a segment boundary and mid-segment', async () => {
        await expect(openWay(cipher.subarray(0, segmentAt(4)), size)).rejects.toThrow();
        await expect(openWay(cipher.subarray(0, segmentAt(4) + 50), size)).rejects.toThrow();
        await expect(openWay(cipher.subarray(0, HEADER_BYTES - 1), size)).rejects.toThrow();
      });

      it('on an appended segment', async () => {
        const extended = Buffer.concat([cipher, cipher.subarray(segmentAt(1), segmentAt(2))]);
        await expect(openWay(extended, size + S)).rejects.toThrow();
      });

      it('on reordered segments', async () => {
        const swapped = Buffer.concat([
          cipher.subarray(0, segmentAt(1)),
          cipher.subarray(segmentAt(2), segmentAt(3)),
          cipher.subarray(segmentAt(1), segmentAt(2)),
          cipher.subarray(segmentAt(3)),
        ]);
        await expect(openWay(swapped, size)).rejects.toThrow(/failed authentication/);
      });

      it('on a segment or a header from another file under the same key', async () => {
        // Another file sealed under the same key and id: only its random nonce prefix differs.
        const foreign = await collect(
          chunked(plaintext(size, 9), 400).pipe(new SegmentEncryptor({ key: KEY, dataKeyId: KEY_ID, segmentSize: S })),
        );
        const mixed = Buffer.concat([
          cipher.subarray(0, segmentAt(1)),
          foreign.subarray(segmentAt(1), segmentAt(2)),
          cipher.subarray(segmentAt(2)),
        ]);
        await expect(openWay(mixed, size)).rejects.toThrow(/failed authentication/);
        const foreignHeader = Buffer.concat([foreign.subarray(0, HEADER_BYTES), cipher.subarray(HEADER_BYTES)]);
        await expect(openWay(foreignHeader, size)).rejects.toThrow(/failed authentication/);
      });

      it('on a header naming another data key', async () => {
        await expect(openWay(cipher, size, { dataKeyId: 'ffffffff-4455-6677-8899-aabbccddeeff' })).rejects.toThrow(
          /another file/,
        );
      });

      it('on the wrong key', async () => {
        await expect(openWay(cipher, size, { key: Buffer.alloc(32, 8) })).rejects.toThrow(/failed authentication/);
      });
    });

    it('on a ranged read whose last segment is presented as the final one', async () => {
      const span = segmentSpan(size, S, 0, S - 1);
      const decryptor = new SegmentDecryptor({
        key: KEY,
        dataKeyId: KEY_ID,
        header: cipher.subarray(0, HEADER_BYTES),
        segments: 1,
        endsAtFinal: true,
      });
      await expect(
        collect(chunked(cipher.subarray(span.cipherStart, span.cipherEnd + 1), 300).pipe(decryptor)),
      ).rejects.toThrow();
    });
  });
});
