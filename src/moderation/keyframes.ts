import sharp from 'sharp';
import { ffmpeg, inputArgs } from '../processing/av/ffmpeg.js';
import { phashOfImage } from './phash.js';

/** Keyframes hashed per video: enough to catch a clip cut from a blocked one, few enough to stay cheap. */
export const KEYFRAMES = 4;
const SIDE = 128;

/** Seconds at which the keyframes are taken: the middles of `count` equal parts of the video. */
export function keyframeTimes(durationMs: number, count = KEYFRAMES): number[] {
  return Array.from({ length: count }, (_, i) => ((i + 0.5) * durationMs) / count / 1000);
}

/**
 * The pHashes of a few evenly spaced frames of the video at `path` (of verified type `ext`,
 * read with its forced demuxer and no protocol but `file`): each frame is decoded to a small
 * grey square by FFmpeg and hashed like an image. A frame that does not decode is skipped.
 */
export async function keyframePhashes(
  ext: string,
  path: string,
  durationMs: number,
  signal: AbortSignal,
): Promise<bigint[]> {
  const hashes: bigint[] = [];
  for (const seconds of keyframeTimes(durationMs)) {
    const args = [
      '-ss',
      seconds.toFixed(3),
      ...inputArgs(ext, path),
      '-frames:v',
      '1',
      '-vf',
      `scale=${SIDE}:${SIDE}:flags=area,format=gray`,
      '-f',
      'rawvideo',
      'pipe:1',
    ];
    const pixels = await ffmpeg(args, { signal, timeoutMs: 30_000, maxOutputBytes: SIDE * SIDE }).catch(
      () => undefined,
    );
    if (pixels?.length === SIDE * SIDE)
      hashes.push(await phashOfImage(sharp(pixels, { raw: { width: SIDE, height: SIDE, channels: 1 } })));
  }
  return hashes;
}
