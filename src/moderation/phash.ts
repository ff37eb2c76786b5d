import sharp, { type Sharp } from 'sharp';

/**
 * The 64-bit DCT perceptual hash (pHash, as in phash.org's ph_dct_imagehash): grey 32×32,
 * 2-D DCT-II, the 8×8 block of frequencies 1..8 on each axis, each bit "coefficient above
 * the block's median". Rescaled, recompressed or lightly edited copies stay within a few
 * bits; unrelated images differ in about half of them. Blocklist matching compares hashes
 * by Hamming distance (see phash-index.ts).
 *
 * Row and column 0 (DC included) are left out as the reference does: DC is the mean
 * brightness, far above any median, so its bit would be constant. Measured on 15 images
 * (fixtures + generated) × 4 edits: the 1..8 block kept copies within 4 bits and different
 * images ≥ 20 apart; the 0..7 block 6 and 22, so nothing to gain by departing from the
 * reference.
 */
const SIZE = 32;
const LOW = 8;
const FIRST = 1;

/** COS[k * SIZE + n] = cos(π (2n + 1) k / 2N) for the frequencies we keep (k < FIRST + LOW). */
const COS = new Float64Array((FIRST + LOW) * SIZE);
for (let k = 0; k < FIRST + LOW; k++) {
  for (let n = 0; n < SIZE; n++) COS[k * SIZE + n] = Math.cos((Math.PI * (2 * n + 1) * k) / (2 * SIZE));
}

/** The hash of 32×32 one-byte grey pixels, row-major; bit 63 is frequency (1, 1). */
export function phashOfPixels(gray32x32: Uint8Array | Buffer): bigint {
  if (gray32x32.length !== SIZE * SIZE)
    throw new RangeError(`expected ${SIZE * SIZE} grey pixels, got ${gray32x32.length}`);
  // Separable DCT, only the kept frequencies: rows first (rowDct[y][u]), then columns.
  const rowDct = new Float64Array(SIZE * LOW);
  for (let y = 0; y < SIZE; y++) {
    for (let u = 0; u < LOW; u++) {
      let sum = 0;
      for (let x = 0; x < SIZE; x++) sum += gray32x32[y * SIZE + x] * COS[(u + FIRST) * SIZE + x];
      rowDct[y * LOW + u] = sum;
    }
  }
  const block = new Float64Array(LOW * LOW);
  for (let v = 0; v < LOW; v++) {
    for (let u = 0; u < LOW; u++) {
      let sum = 0;
      for (let y = 0; y < SIZE; y++) sum += rowDct[y * LOW + u] * COS[(v + FIRST) * SIZE + y];
      block[v * LOW + u] = sum; // no orthonormal scale: all kept frequencies share it, and the median ignores it
    }
  }
  const sorted = block.slice().sort();
  const median = (sorted[31] + sorted[32]) / 2;
  let hi = 0;
  let lo = 0;
  for (let i = 0; i < 32; i++) {
    hi = (hi << 1) | (block[i] > median ? 1 : 0);
    lo = (lo << 1) | (block[i + 32] > median ? 1 : 0);
  }
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/**
 * The hash of an image. A sharp instance is cloned (a caller that already decoded fans out);
 * a buffer or path is decoded here, turned upright by its EXIF orientation, first page only.
 */
export async function phashOfImage(input: Buffer | string | Sharp): Promise<bigint> {
  const image =
    typeof input === 'string' || Buffer.isBuffer(input) ? sharp(input, { pages: 1 }).rotate() : input.clone();
  // Transparent pixels count as white, as the image is usually shown on a light background.
  // fastShrinkOnLoad off: libjpeg's DCT-domain 1/8 shrink otherwise gives a JPEG different
  // 32×32 pixels than the same picture as PNG (12 bits apart on the Nikon fixture, 2 without).
  const pixels = await image
    .flatten({ background: '#ffffff' })
    .greyscale()
    .resize(SIZE, SIZE, { fit: 'fill', fastShrinkOnLoad: false })
    .raw()
    .toBuffer();
  return phashOfPixels(pixels);
}

export const toHex = (hash: bigint): string => BigInt.asUintN(64, hash).toString(16).padStart(16, '0');

export const fromHex = (hex: string): bigint | undefined =>
  /^[0-9a-fA-F]{16}$/.test(hex) ? BigInt(`0x${hex}`) : undefined;

/** Set bits of a 32-bit integer (SWAR: pairs, nibbles, then a multiply sums the bytes). */
export function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** Bits in which two 64-bit hashes differ; BigInt only to split, the counting is on 32-bit numbers. */
export function hammingDistance(a: bigint, b: bigint): number {
  const diff = BigInt.asUintN(64, a ^ b);
  return popcount32(Number(diff >> 32n)) + popcount32(Number(diff & 0xffffffffn));
}
