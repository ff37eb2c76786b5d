import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { MediaError } from '../../errors.js';
import { ffmpeg, inputArgs } from '../av/ffmpeg.js';

/** The animation an APNG announces (ISO 15948 + APNG 1.0: acTL, then one fcTL per frame). */
export interface ApngAnimation {
  /** Frames of the animation (its fcTL chunks). */
  frames: number;
  /** Display time of each frame in milliseconds (fcTL delay_num / delay_den, a den of 0 meaning 100). */
  delays: number[];
  /** Times the animation plays; 0 is for ever (acTL num_plays). */
  loop: number;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * The animation of an APNG: an acTL chunk before the first IDAT and more than one frame.
 * Undefined for a still PNG, for an animation of one frame, and for an APNG whose default
 * image is not part of its animation (its first fcTL follows the IDAT): FFmpeg's APNG
 * demuxer does not read those, so they are treated as the still PNG every viewer without
 * APNG support shows.
 */
export function apngAnimation(bytes: Buffer): ApngAnimation | undefined {
  if (!bytes.subarray(0, 8).equals(PNG_SIGNATURE)) return undefined;
  let announced = false;
  let loop = 0;
  let seenIdat = false;
  let defaultImageIsFrame = false;
  const delays: number[] = [];
  for (let at = 8; at + 12 <= bytes.length;) {
    const length = bytes.readUInt32BE(at);
    const type = bytes.toString('latin1', at + 4, at + 8);
    const data = at + 8;
    if (data + length > bytes.length) break;
    if (type === 'acTL' && !seenIdat && length >= 8) {
      announced = true;
      loop = bytes.readUInt32BE(data + 4);
    } else if (type === 'fcTL' && length >= 26) {
      if (!seenIdat) defaultImageIsFrame = true;
      const num = bytes.readUInt16BE(data + 20);
      const den = bytes.readUInt16BE(data + 22) || 100;
      delays.push(Math.min(65_535, Math.round((num * 1000) / den)));
    } else if (type === 'IDAT') seenIdat = true;
    else if (type === 'IEND') break;
    at = data + length + 4;
  }
  if (!announced || !defaultImageIsFrame || delays.length < 2) return undefined;
  return { frames: delays.length, delays, loop: Math.min(loop, 65_535) };
}

/**
 * The first `frames` frames of the APNG `original`, composed (blend and dispose applied) by
 * FFmpeg's APNG decoder, as raw 8-bit RGBA (or RGB) stacked top to bottom: libvips reads
 * only an APNG's default image. Anything but exactly that many whole frames is CORRUPT_FILE.
 */
export async function decodeApngFrames(
  original: Buffer,
  size: { width: number; height: number; channels: 3 | 4; frames: number },
  workDir: string,
  signal: AbortSignal,
): Promise<Buffer> {
  const path = join(workDir, 'input.apng');
  await writeFile(path, original, { mode: 0o600 });
  const bytes = size.width * size.height * size.channels * size.frames;
  const args = [
    ...inputArgs('apng', path),
    ...['-map', '0:v:0', '-frames:v', String(size.frames), '-fps_mode', 'passthrough'],
    ...['-f', 'rawvideo', '-pix_fmt', size.channels === 4 ? 'rgba' : 'rgb24', 'pipe:1'],
  ];
  const raw = await ffmpeg(args, { signal, timeoutMs: 60_000, maxOutputBytes: bytes });
  if (raw.length !== bytes) throw new MediaError('CORRUPT_FILE', 'The animation does not decode');
  return raw;
}
