import exifReader from 'exif-reader';
import sharp from 'sharp';

/**
 * A 64-bit difference hash of the image's look (grey 9×8, each pixel brighter than its
 * right neighbour?): resized or recompressed copies differ in a few bits, other images in
 * about half of them.
 */
export async function dHash(image: Buffer | sharp.Sharp): Promise<bigint> {
  const pipeline = Buffer.isBuffer(image) ? sharp(image, { pages: 1 }) : image;
  const pixels = await pipeline
    .flatten({ background: '#ffffff' })
    .greyscale()
    .resize(9, 8, { fit: 'fill' })
    .raw()
    .toBuffer();
  let hash = 0n;
  for (let y = 0; y < 8; y++) {
    for (let x = 0; x < 8; x++) hash = (hash << 1n) | (pixels[y * 9 + x] > pixels[y * 9 + x + 1] ? 1n : 0n);
  }
  return hash;
}

export function hamming(a: bigint, b: bigint): number {
  let diff = a ^ b;
  let bits = 0;
  for (; diff; diff >>= 1n) bits += Number(diff & 1n);
  return bits;
}

/** Whatever EXIF the image still carries, parsed; undefined when it has none. */
export async function exifOf(image: Buffer): Promise<ReturnType<typeof exifReader> | undefined> {
  const { exif } = await sharp(image).metadata();
  return exif ? exifReader(exif) : undefined;
}
