import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { below, seededRandom } from '../support/random';

/** A 320×240 PNG: a diagonal gradient, a dozen circles and tilted rectangles, light noise; one per seed. */
export async function picture(seed: number): Promise<Buffer> {
  const random = seededRandom(seed);
  const hue = () => below(random, 360);
  const shapes = Array.from({ length: 12 }, () => {
    const fill = `hsl(${hue()},${50 + below(random, 50)}%,${20 + below(random, 60)}%)`;
    return random() < 0.5
      ? `<circle cx="${below(random, 320)}" cy="${below(random, 240)}" r="${10 + below(random, 60)}" fill="${fill}"/>`
      : `<rect x="${below(random, 320)}" y="${below(random, 240)}" width="${15 + below(random, 125)}" height="${15 + below(random, 100)}" fill="${fill}" transform="rotate(${below(random, 90) - 45} 160 120)"/>`;
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="320" height="240">
    <defs><linearGradient id="g" x2="1" y2="1"><stop offset="0" stop-color="hsl(${hue()},70%,50%)"/><stop offset="1" stop-color="hsl(${hue()},70%,50%)"/></linearGradient></defs>
    <rect width="320" height="240" fill="url(#g)"/>${shapes.join('')}</svg>`;
  const noise = Buffer.from(Uint8Array.from({ length: 320 * 240 * 4 }, (_, i) => (i % 4 === 3 ? 40 : below(random, 256))));
  return sharp(Buffer.from(svg)).composite([{ input: noise, raw: { width: 320, height: 240, channels: 4 } }]).png().toBuffer();
}

export const digest = (algorithm: 'sha256' | 'md5', data: Buffer): string => createHash(algorithm).update(data).digest('hex');

/** `hash` with its lowest `bits` bits inverted: a near-duplicate `bits` away. */
export const flipBits = (hash: bigint, bits: number): bigint => hash ^ ((1n << BigInt(bits)) - 1n);
