import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { fromHex, hammingDistance, phashOfImage, phashOfPixels, toHex } from '../../../src/moderation/phash';
import { hamming } from '../../support/image';
import { below, seededRandom } from '../../support/random';
import { picture } from '../../support/pictures';

/**
 * pHash on real pixels: fixture photos and pictures generated here (gradient, shapes, noise
 * from a seeded generator). Copies must stay within the blocklist threshold (10), different
 * pictures well beyond what the index is ever asked for (16).
 */
const fixture = (name: string) => join(__dirname, '..', '..', 'fixtures', name);
const NIKON = fixture('jpeg-exif-gps-nikon-d2h.jpg');
const ROSE_PNG = fixture('png-rgba-alpha-yellow-rose.png');
const ROSE_WEBP = fixture('webp-lossy-alpha.webp');
const ROTATED_JPEG = fixture('jpeg-exif-orientation6-panasonic-gf1.jpg');

/** A 640×480 generated picture (gradient, shapes, noise), one per seed. */
const generated = (seed: number) => picture(seed, 640, 480);

/** The edits a re-upload of a blocked picture typically went through. */
async function copiesOf(image: Buffer): Promise<Record<string, Buffer>> {
  const { width } = await sharp(image).rotate().metadata();
  const upright = () => sharp(image).rotate();
  return {
    'resized to 50 %': await upright()
      .resize(Math.round(width / 2))
      .png()
      .toBuffer(),
    // JPEG has no alpha: flattened on white as the hash sees transparency, not on sharp's black
    'JPEG quality 40': await upright().flatten({ background: '#ffffff' }).jpeg({ quality: 40 }).toBuffer(),
    'brightened 10 %': await upright().modulate({ brightness: 1.1 }).png().toBuffer(),
    'WebP re-encoded': await upright().webp().toBuffer(),
  };
}

describe('phashOfImage', () => {
  const pictures: Record<string, Promise<Buffer>> = {};
  const picture = (name: string) =>
    (pictures[name] ??= name.startsWith('generated') ? generated(Number(name.slice(10))) : readFile(fixture(name)));
  const distinct = [
    'generated-1',
    'generated-2',
    'generated-3',
    'generated-4',
    'generated-5',
    'generated-6',
    'jpeg-exif-gps-nikon-d2h.jpg',
    'png-rgba-alpha-yellow-rose.png',
    'jpeg-exif-orientation6-panasonic-gf1.jpg',
  ];

  it.each(distinct)('keeps edited copies of %s within 10 bits', async (name) => {
    const original = await phashOfImage(await picture(name));
    const copies = Object.entries(await copiesOf(await picture(name)));
    const distances = await Promise.all(
      copies.map(async ([edit, copy]) => [edit, hammingDistance(original, await phashOfImage(copy))] as const),
    );
    expect(distances.filter(([, distance]) => distance > 10)).toEqual([]);
  });

  it('puts different pictures more than 16 bits apart', async () => {
    const hashes = await Promise.all(distinct.map(async (name) => phashOfImage(await picture(name))));
    const closest = Math.min(...hashes.flatMap((a, i) => hashes.slice(i + 1).map((b) => hammingDistance(a, b))));
    expect(closest).toBeGreaterThan(16);
  });

  it('knows the rose in its lossy WebP fixture for the rose of the PNG', async () => {
    expect(hammingDistance(await phashOfImage(ROSE_PNG), await phashOfImage(ROSE_WEBP))).toBeLessThanOrEqual(10);
  });

  it('hashes a JPEG the same from a path, a buffer, or a decoded sharp instance it leaves usable', async () => {
    const decoded = sharp(NIKON);
    const fromPath = await phashOfImage(NIKON);
    expect(await phashOfImage(await readFile(NIKON))).toBe(fromPath);
    expect(await phashOfImage(decoded)).toBe(fromPath);
    expect((await decoded.png().toBuffer({ resolveWithObject: true })).info.width).toBe(500);
  });

  it('turns a photo upright by its EXIF orientation before hashing', async () => {
    const upright = await phashOfImage(ROTATED_JPEG);
    const rotatedPixels = await sharp(ROTATED_JPEG).rotate(90).png().toBuffer(); // no EXIF left
    expect(hammingDistance(upright, await phashOfImage(rotatedPixels))).toBeLessThanOrEqual(4);
    // The sensor's sideways pixels (a sharp instance is hashed as the caller oriented it) are another picture.
    expect(hammingDistance(upright, await phashOfImage(sharp(ROTATED_JPEG)))).toBeGreaterThan(16);
  });
});

describe('phashOfPixels', () => {
  it('wants exactly 32×32 grey pixels', () => {
    expect(() => phashOfPixels(new Uint8Array(32 * 32 * 3))).toThrow(RangeError);
  });

  it('sets a bit for each low frequency above the median: half of them', async () => {
    const pixels = await sharp(NIKON).greyscale().resize(32, 32, { fit: 'fill' }).raw().toBuffer();
    expect(hammingDistance(phashOfPixels(pixels), 0n)).toBe(32);
  });
});

describe('hex and Hamming distance', () => {
  const random = seededRandom(7);
  const randomHash = () => (BigInt(below(random, 2 ** 32)) << 32n) | BigInt(below(random, 2 ** 32));

  it('writes 16 lowercase hex digits and reads them back', () => {
    expect(toHex(0n)).toBe('0000000000000000');
    expect(toHex(0xabcdefn)).toBe('0000000000abcdef');
    expect(toHex((1n << 64n) - 1n)).toBe('ffffffffffffffff');
    for (let i = 0; i < 100; i++) {
      const hash = randomHash();
      expect(fromHex(toHex(hash))).toBe(hash);
    }
    expect(fromHex('00000000ABCDEF12')).toBe(0xabcdef12n);
  });

  it.each(['', 'abc', '0123456789abcdef0', '0x23456789abcdef', '0123456789abcdeg', ' 123456789abcdef'])(
    'rejects %p',
    (hex) => {
      expect(fromHex(hex)).toBeUndefined();
    },
  );

  it('counts differing bits across both 32-bit halves', () => {
    expect(hammingDistance(0n, 0n)).toBe(0);
    expect(hammingDistance(0n, (1n << 64n) - 1n)).toBe(64);
    expect(hammingDistance(0xf0n, 0x0fn)).toBe(8);
    expect(hammingDistance(1n << 63n, 1n)).toBe(2);
    expect(hammingDistance(0x8000000080000000n, 0x0000000100000001n)).toBe(4);
    for (let i = 0; i < 200; i++) {
      const [a, b] = [randomHash(), randomHash()];
      expect(hammingDistance(a, b)).toBe(hamming(a, b));
    }
  });
});
