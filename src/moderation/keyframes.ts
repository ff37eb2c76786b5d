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
 * grey square by FFmpeg and hashed like an image. One FFmpeg run takes them all (an input per
 * frame, each seeking on its own: the same frames as a run per frame, with one start-up
 * instead of four, ≈ 40 % less time); if that run fails, a run per frame does, and a frame
 * that does not decode is skipped.
 */
export async function keyframePhashes(
  ext: string,
  path: string,
  durationMs: number,
  signal: AbortSignal,
): Promise<bigint[]> {
  const times = keyframeTimes(durationMs);
  const together = await grey(ext, path, times, signal).catch(() => undefined);
  if (together) return Promise.all(together.map(phashOfGrey));
  const hashes: bigint[] = [];
  for (const seconds of times) {
    const [frame] = (await grey(ext, path, [seconds], signal).catch(() => undefined)) ?? [];
    if (frame) hashes.push(await phashOfGrey(frame));
  }
  return hashes;
}

/** The frames at `times` as SIDE × SIDE grey pixels, from one FFmpeg run; throws unless every one decoded. */
async function grey(ext: string, path: string, times: number[], signal: AbortSignal): Promise<Buffer[]> {
  // One decoding thread per input: each decodes one frame, and the default (a thread per core, and
  // one more) spent more time starting threads than decoding (the same frames; 0.51 → 0.35 s for
  // a 1080p MPEG-4, 0.71 → 0.62 s for its H.264 version).
  const inputs = times.flatMap((seconds) => ['-threads', '1', '-ss', seconds.toFixed(3), ...inputArgs(ext, path)]);
  const frames = times.map(
    (_, i) => `[${i}:v:0]trim=end_frame=1,scale=${SIDE}:${SIDE}:flags=area,format=gray,setsar=1[f${i}]`,
  );
  const joined = `${times.map((_, i) => `[f${i}]`).join('')}concat=n=${times.length}:v=1:a=0[frames]`;
  const args = [...inputs, '-filter_complex', `${frames.join(';')};${joined}`, '-map', '[frames]'];
  // Passthrough: the frames as they are, none repeated to fill the time between them.
  const output = ['-fps_mode', 'passthrough', '-f', 'rawvideo', 'pipe:1'];
  const pixels = await ffmpeg([...args, ...output], {
    signal,
    timeoutMs: 30_000,
    maxOutputBytes: SIDE * SIDE * times.length,
  });
  if (pixels.length !== SIDE * SIDE * times.length) throw new Error(`${pixels.length / (SIDE * SIDE)} frames decoded`);
  return times.map((_, i) => pixels.subarray(i * SIDE * SIDE, (i + 1) * SIDE * SIDE));
}

const phashOfGrey = (pixels: Buffer): Promise<bigint> =>
  phashOfImage(sharp(pixels, { raw: { width: SIDE, height: SIDE, channels: 1 } }));
