import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { below, seededRandom } from './random';

/** A PNG (320×240 unless told): a diagonal gradient, a dozen circles and tilted rectangles, light noise; one per seed. */
export async function picture(seed: number, width = 320, height = 240): Promise<Buffer> {
  const random = seededRandom(seed);
  const k = width / 320;
  const at = (n: number) => Math.round(below(random, n) * k);
  const hue = () => below(random, 360);
  const shapes = Array.from({ length: 12 }, () => {
    const fill = `hsl(${hue()},${50 + below(random, 50)}%,${20 + below(random, 60)}%)`;
    return random() < 0.5
      ? `<circle cx="${at(320)}" cy="${at(240)}" r="${10 * k + at(60)}" fill="${fill}"/>`
      : `<rect x="${at(320)}" y="${at(240)}" width="${15 * k + at(125)}" height="${15 * k + at(100)}" fill="${fill}" transform="rotate(${below(random, 90) - 45} ${width / 2} ${height / 2})"/>`;
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <defs><linearGradient id="g" x2="1" y2="1"><stop offset="0" stop-color="hsl(${hue()},70%,50%)"/><stop offset="1" stop-color="hsl(${hue()},70%,50%)"/></linearGradient></defs>
    <rect width="${width}" height="${height}" fill="url(#g)"/>${shapes.join('')}</svg>`;
  const noise = Buffer.from(
    Uint8Array.from({ length: width * height * 4 }, (_, i) => (i % 4 === 3 ? 40 : below(random, 256))),
  );
  return sharp(Buffer.from(svg))
    .composite([{ input: noise, raw: { width, height, channels: 4 } }])
    .png()
    .toBuffer();
}

export const digest = (algorithm: 'sha256' | 'md5', data: Buffer): string =>
  createHash(algorithm).update(data).digest('hex');

/** `hash` with its lowest `bits` bits inverted: a near-duplicate `bits` away. */
export const flipBits = (hash: bigint, bits: number): bigint => hash ^ ((1n << BigInt(bits)) - 1n);
