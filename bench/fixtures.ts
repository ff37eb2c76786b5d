import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import sharp from 'sharp';
import { makeZipFile } from './zip-file.js';

const MB = 1024 * 1024;

export interface Fixtures {
  small: string[];
  five: string;
  big: string;
  tenKb: string;
  image: string;
  /** ≈ 90 MB of H.264/AAC in MP4 with a title tag: stored remuxed, without it. */
  video: string;
}

/** The files every run sends, made under `work`: 200 × 1 MiB, 5 MB, 100 MB and 10 KB ZIPs of random bytes, a JPEG of noise, a 40 s H.264 video. */
export async function makeFixtures(work: string): Promise<Fixtures> {
  const path = (name: string) => join(work, name);
  const small = Array.from({ length: 200 }, (_, i) => path(`small-${i}.zip`));
  small.forEach((file) => makeZipFile(file, MB, randomBytes));
  for (const [name, size] of [
    ['five.zip', 5 * MB],
    ['big.zip', 100 * MB],
    ['ten-kb.zip', 10 * 1024],
  ] as const)
    makeZipFile(path(name), size, randomBytes);
  const noise = randomBytes(640 * 480 * 3);
  await sharp(noise, { raw: { width: 640, height: 480, channels: 3 } })
    .jpeg()
    .toFile(path('image.jpg'));
  execFileSync('ffmpeg', [
    ...[
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=1280x720:rate=25',
      '-f',
      'lavfi',
      '-i',
      'sine=frequency=440',
      '-t',
      '40',
    ],
    ...[
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-b:v',
      '20M',
      '-maxrate',
      '20M',
      '-bufsize',
      '40M',
      '-c:a',
      'aac',
      '-metadata',
      'title=bench',
      path('video.mp4'),
    ],
  ]);
  return {
    small,
    five: path('five.zip'),
    big: path('big.zip'),
    tenKb: path('ten-kb.zip'),
    image: path('image.jpg'),
    video: path('video.mp4'),
  };
}
