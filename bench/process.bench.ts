/**
 * npm run bench:process — processing through the built service against the bare tool work
 * on the same file, in one run, interleaved:
 * - a 12 MP phone-like JPEG (with EXIF and orientation): upload (compress + 3 previews +
 *   everything else) vs sharp alone doing the same compress + 3 previews. Goal: ratio ≤ 1.15.
 * - a 1080p 10 s MP4 that needs transcoding (MPEG-4 Part 2): upload + background transcode
 *   until ready vs bare FFmpeg with the same arguments. Goal: ratio ≤ 1.15.
 * - the compression achieved on the image fixtures (seed: ≥ 30 % smaller).
 * Writes bench/results/process.json (`npm run bench` runs it and reads that).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { jpegQuality } from '../src/processing/image/image-plan.js';
import { previewDimensions } from '../src/processing/previews.js';
import { transcodeArgs } from '../src/processing/video/video-plan.js';
import { type BenchService, median, postFile, ROOT, startService, timed, runBench } from './support.js';

const work = mkdtempSync(join(tmpdir(), 'media-bench-process-'));
chmodSync(work, 0o711); // the embedded PostgreSQL (user postgres, when run as root) must enter DATA_DIR below it
const RUNS = 5;

async function makePhoto(path: string): Promise<void> {
  const [width, height] = [4000, 3000];
  const noise = Buffer.alloc(width * height * 3);
  for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761) >>> 24;
  const exif = { IFD0: { Make: 'Bench', Model: 'Phone 12MP', Orientation: '6' } };
  await sharp(noise, { raw: { width, height, channels: 3 } })
    .blur(3)
    .modulate({ saturation: 1.4 })
    .withExif(exif)
    .jpeg({ quality: 92 })
    .toFile(path);
}

/** What the service does with the photo, done by sharp alone: orient, JPEG, three WebP previews. */
async function bareImageWork(path: string): Promise<void> {
  const base = sharp(readFileSync(path)).rotate();
  const { width = 0, height = 0 } = await sharp(path).metadata();
  const [w, h] = [height, width]; // orientation 6
  await Promise.all([
    base
      .clone()
      .keepIccProfile()
      .jpeg({ quality: jpegQuality(w, h), mozjpeg: true })
      .toBuffer(),
    ...([64, 256, 512] as const).map((box) => {
      const size = previewDimensions(w, h, box);
      return base.clone().resize(size.width, size.height, { fit: 'fill' }).webp({ quality: 80 }).toBuffer();
    }),
  ]);
}

async function uploadAndWait(
  service: BenchService,
  token: string,
  path: string,
  filename: string,
): Promise<Record<string, any>> {
  const reply = await postFile(`${service.base}/api/v1/media/upload`, path, { token, filename });
  if (reply.status !== 201 && reply.status !== 202) throw new Error(`upload answered ${reply.status}: ${reply.body}`);
  let media = JSON.parse(reply.body);
  while (media.status === 'processing') {
    await new Promise((resolve) => setTimeout(resolve, 100));
    media = await (
      await fetch(`${service.base}/api/v1/media/${media.id}/metadata`, {
        headers: { Authorization: `Bearer ${token}` },
      })
    ).json();
  }
  if (media.status !== 'ready') throw new Error(`media ended ${media.status}: ${media.failureReason}`);
  await fetch(`${service.base}/api/v1/media/${media.id}`, {
    method: 'DELETE',
    headers: { Authorization: `Bearer ${token}` },
  });
  return media;
}

async function main(): Promise<void> {
  const photo = join(work, 'photo.jpg');
  await makePhoto(photo);
  const video = join(work, 'clip.mp4');
  execFileSync('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=1920x1080:rate=30:duration=10',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440:duration=10',
    '-c:v',
    'mpeg4',
    '-q:v',
    '4',
    '-c:a',
    'aac',
    video,
  ]);
  const service = await startService(join(work, 'data'), { JOB_POLL_SECONDS: '0.5' });
  const token = service.token('bench');
  const rows: string[] = [];
  const figures: Record<string, number> = {};
  try {
    // A first upload warms the service (module loading, sharp's pools) and is not counted.
    await uploadAndWait(service, token, photo, 'photo.jpg');
    const photoMs: number[] = [];
    const sharpMs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      // Each upload must be new bytes (the same bytes would be a duplicate): append a comment to the JPEG.
      const copy = join(work, `photo-${i}.jpg`);
      writeFileSync(copy, Buffer.concat([readFileSync(photo), Buffer.from(`bench ${i}`)]));
      photoMs.push(await timed(() => uploadAndWait(service, token, copy, 'photo.jpg')));
      sharpMs.push(await timed(() => bareImageWork(copy)));
    }
    const p50 = median(photoMs);
    rows.push(
      `12 MP JPEG      upload p50 ${p50.toFixed(0).padStart(5)} ms   bare sharp ${median(sharpMs).toFixed(0).padStart(5)} ms   ratio ${(p50 / median(sharpMs)).toFixed(2)} (goal ≤ 1.15; ${RUNS} runs)`,
    );

    const videoMs: number[] = [];
    const ffmpegMs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const copy = join(work, `clip-${i}.mp4`);
      execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', video, '-c', 'copy', '-metadata', `comment=run ${i}`, copy]);
      videoMs.push(await timed(() => uploadAndWait(service, token, copy, 'clip.mp4')));
      ffmpegMs.push(
        await timed(async () =>
          execFileSync('ffmpeg', [
            '-nostdin',
            '-v',
            'error',
            '-y',
            '-f',
            'mov',
            '-i',
            copy,
            ...transcodeArgs(1920, 1080), // the same work
            join(work, 'bare.mp4'),
          ]),
        ),
      );
    }
    rows.push(
      `1080p 10 s MP4  upload+transcode ${median(videoMs).toFixed(0).padStart(6)} ms   bare ffmpeg ${median(ffmpegMs).toFixed(0).padStart(6)} ms   ratio ${(median(videoMs) / median(ffmpegMs)).toFixed(2)} (goal ≤ 1.15; 3 runs)`,
    );
    Object.assign(figures, {
      photoMs: p50,
      sharpMs: median(sharpMs),
      videoMs: median(videoMs),
      ffmpegMs: median(ffmpegMs),
    });

    const fixtures = join(ROOT, 'test', 'fixtures');
    let original = 0;
    let stored = 0;
    for (const name of readdirSync(fixtures).filter((f) => /\.(jpg|png|gif|webp|heic)$/.test(f))) {
      const media = await uploadAndWait(service, token, join(fixtures, name), name);
      original += media.originalSize;
      stored += media.size;
      rows.push(
        `  ${name.padEnd(44)} ${String(media.originalSize).padStart(7)} → ${String(media.size).padStart(7)} bytes  ${media.mimeType}`,
      );
    }
    Object.assign(figures, { corpusOriginal: original, corpusStored: stored });
    rows.push(
      `corpus images   ${original} → ${stored} bytes: ${((1 - stored / original) * 100).toFixed(0)} % smaller (seed: ≥ 30 %)`,
    );
  } finally {
    service.child.kill('SIGTERM');
  }
  console.log(`media-service processing benchmark (node ${process.version}, ${new Date().toISOString()})`);
  for (const row of rows) console.log(row);
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(
    join(ROOT, 'bench', 'results', 'process.json'),
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, ...figures }, null, 2)}\n`,
  );
}

runBench(main, { children: [], work });
