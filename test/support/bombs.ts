import { crc32 } from 'node:zlib';
import sharp from 'sharp';

/*
 * Images that declare far more pixels than they carry: a real 1×1 (or 8×8) image with its
 * header rewritten, so only what the header says is a bomb.
 */

/** `png` with its IHDR rewritten to `width`×`height` (and its CRC fixed). */
export function resized(png: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(png);
  out.writeUInt32BE(width, 16);
  out.writeUInt32BE(height, 20);
  out.writeUInt32BE(crc32(out.subarray(12, 29)), 29);
  return out;
}

export async function pngSized(width: number, height: number): Promise<Buffer> {
  return resized(
    await sharp({ create: { width: 1, height: 1, channels: 3, background: '#ffffff' } })
      .png()
      .toBuffer(),
    width,
    height,
  );
}

export async function jpegSized(width: number, height: number): Promise<Buffer> {
  const jpeg = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#ffffff' } })
    .jpeg()
    .toBuffer();
  const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
  jpeg.writeUInt16BE(height, sof + 5);
  jpeg.writeUInt16BE(width, sof + 7);
  return jpeg;
}

/** A 1×1 lossless WebP whose VP8L header (14 bits each, minus one) says `width`×`height`. */
export async function webpSized(width: number, height: number): Promise<Buffer> {
  const webp = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#ffffff' } })
    .webp({ lossless: true })
    .toBuffer();
  if (webp.toString('latin1', 12, 16) !== 'VP8L') throw new Error('expected a simple lossless WebP');
  const bits = webp.readUInt32LE(21);
  webp.writeUInt32LE(((bits & ~0x0fffffff) | (width - 1) | ((height - 1) << 14)) >>> 0, 21);
  return webp;
}
