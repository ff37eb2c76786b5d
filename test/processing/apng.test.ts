import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { startTestApp, type TestApp } from '../support/app';
import { fixture, request, upload, uploadFixture } from '../support/http';
import { ffmpeg, lavfi } from '../support/ffmpeg';

/**
 * Looks the same: mean grey difference (0–255, on white, 64×64) at most this. dHash does
 * not fit a small ball on a transparent canvas (the white pixels it compares are equal).
 * The fixture's frames differ from its first by 5.8 (next frame) to 28.6; its WebP by 0.3.
 */
const SIMILAR = 2;
const APNG = 'apng-animated-alpha.png';

const work = mkdtempSync(join(tmpdir(), 'media-test-apng-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let files = 0;
function tempFile(data: Buffer, ext: string): string {
  const path = join(work, `${files++}.${ext}`);
  writeFileSync(path, data);
  return path;
}

/** FFmpeg's view of an animation: frames decoded (composed) as raw RGBA, and their count. */
function framesOf(data: Buffer, demuxer: 'apng' | 'webp_pipe', width: number, height: number): Buffer[] {
  const raw = execFileSync(
    'ffmpeg',
    [
      '-v',
      'error',
      '-f',
      demuxer,
      '-i',
      tempFile(data, 'img'),
      '-fps_mode',
      'passthrough',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgba',
      'pipe:1',
    ],
    {
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const size = width * height * 4;
  return Array.from({ length: raw.length / size }, (_, i) => raw.subarray(i * size, (i + 1) * size));
}

/** Frame `page` of a stored animation, as sharp decodes it (WebP), or as FFmpeg composes it (APNG). */
async function storedFrame(data: Buffer, page: number, width: number, height: number): Promise<sharp.Sharp> {
  if ((await sharp(data).metadata()).format === 'webp') return sharp(data, { page, pages: 1 });
  return sharp(framesOf(data, 'apng', width, height)[page], { raw: { width, height, channels: 4 } });
}

async function grey(image: sharp.Sharp): Promise<Buffer> {
  return image.flatten({ background: '#ffffff' }).greyscale().resize(64, 64, { fit: 'fill' }).raw().toBuffer();
}

/** Mean absolute difference of two images' grey levels, flattened on white and scaled to 64×64. */
async function difference(a: sharp.Sharp, b: sharp.Sharp): Promise<number> {
  const [x, y] = await Promise.all([grey(a), grey(b)]);
  return x.reduce((sum, value, i) => sum + Math.abs(value - y[i]), 0) / x.length;
}

/** The PNG's chunks rewritten by `edit` (return undefined to drop one), CRCs recomputed. */
function rewriteChunks(png: Buffer, edit: (type: string, data: Buffer) => Buffer | undefined): Buffer {
  const out = [png.subarray(0, 8)];
  for (let at = 8; at < png.length;) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    const data = edit(type, png.subarray(at + 8, at + 8 + length));
    at += 12 + length;
    if (!data) continue;
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    out.push(head, data, crc);
  }
  return Buffer.concat(out);
}

describe('animated PNG', () => {
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    t = await startTestApp({ env: { MAX_ANIMATION_FRAMES: '25' } });
    token = await t.token('animator');
  });
  afterAll(() => t.close());
  afterEach(() => expect(t.tempFiles()).toEqual([]));

  const download = async (id: string) => (await request(`${t.url}/api/v1/media/${id}`, { token })).body;

  it('stays animated: 20 frames of 100×100 with alpha, each looking like the original frame, previews still', async () => {
    const original = fixture(APNG);
    const originalFrames = framesOf(original, 'apng', 100, 100);
    expect(originalFrames).toHaveLength(20);
    const { status, json } = await uploadFixture(t.url, token, APNG);
    expect(status).toBe(201);
    expect(json).toMatchObject({ type: 'image', originalMimeType: 'image/apng' });
    expect(json.metadata).toMatchObject({ width: 100, height: 100, hasAlpha: true, animated: true, frames: 20 });
    // Animated WebP, or the APNG itself when that is not bigger.
    expect(['image/webp', 'image/apng']).toContain(json.mimeType);
    expect(json.size).toBeLessThanOrEqual(original.length);
    const stored = await download(json.id);
    expect(stored.length).toBe(json.size);
    if (json.mimeType === 'image/webp') {
      const meta = await sharp(stored, { animated: true }).metadata();
      expect([meta.format, meta.pages, meta.width, meta.pageHeight, meta.hasAlpha, meta.loop]).toEqual([
        'webp',
        20,
        100,
        100,
        true,
        0,
      ]);
      expect(meta.delay).toEqual(Array(20).fill(75)); // the fcTL delays, 75/1000 s each
    } else {
      expect(framesOf(stored, 'apng', 100, 100)).toHaveLength(20);
    }
    const frame = (page: number) => sharp(originalFrames[page], { raw: { width: 100, height: 100, channels: 4 } });
    for (const page of [0, 1, 5, 10, 19])
      expect(await difference(await storedFrame(stored, page, 100, 100), frame(page))).toBeLessThanOrEqual(SIMILAR);
    // Each stored frame is its own: the ball bounces (frame 10 is not frame 0 repeated).
    expect(await difference(await storedFrame(stored, 10, 100, 100), frame(0))).toBeGreaterThan(5 * SIMILAR);

    expect(json.previews.map((p: { size: number }) => p.size)).toEqual([64, 256, 512]);
    for (const listed of json.previews) {
      const served = await request(`${t.url}/api/v1/media/${json.id}/preview?size=${listed.size}`, { token });
      const meta = await sharp(served.body, { animated: true }).metadata();
      expect([meta.format, meta.pages ?? 1, meta.width, meta.height]).toEqual(['webp', 1, listed.width, listed.height]);
      expect(await difference(sharp(served.body), frame(0))).toBeLessThanOrEqual(SIMILAR); // the first frame
    }
  });

  it('an opaque APNG made by FFmpeg keeps its frames and their timing; more frames than MAX_ANIMATION_FRAMES is 413', async () => {
    const make = (frames: number) => {
      const path = join(work, `made-${frames}.apng`);
      ffmpeg(...lavfi('testsrc2=size=64x48:rate=10'), '-frames:v', String(frames), '-plays', '0', '-f', 'apng', path);
      return readFileSync(path);
    };
    const { status, json } = await upload(t.url, token, { name: 'made.png', bytes: make(12) });
    expect(status).toBe(201);
    expect(json.metadata).toMatchObject({ width: 64, height: 48, hasAlpha: false, animated: true, frames: 12 });
    const stored = await download(json.id);
    if (json.mimeType === 'image/webp') {
      const meta = await sharp(stored, { animated: true }).metadata();
      expect([meta.pages, meta.width, meta.pageHeight, meta.delay]).toEqual([12, 64, 48, Array(12).fill(100)]);
    } else {
      expect(json.mimeType).toBe('image/apng');
      expect(framesOf(stored, 'apng', 64, 48)).toHaveLength(12);
    }

    const tooMany = await upload(t.url, token, { name: 'long.png', bytes: make(30) });
    expect(tooMany.status).toBe(413);
    expect(tooMany.json.code).toBe('FILE_TOO_LARGE');
  });

  it('an APNG whose default image is not a frame (FFmpeg cannot compose those) is stored as that still image', async () => {
    // The fixture with its first fcTL dropped: the IDAT image is then shown only where APNG is not supported.
    let dropped = false;
    const hidden = rewriteChunks(fixture(APNG), (type, data) => {
      if (type === 'acTL') return Buffer.from([...data.subarray(0, 3), data[3] - 1, ...data.subarray(4)]);
      if (type === 'fcTL' && !dropped) return void (dropped = true);
      if (type !== 'fcTL' && type !== 'fdAT') return data;
      const renumbered = Buffer.from(data);
      renumbered.writeUInt32BE(data.readUInt32BE(0) - 1, 0);
      return renumbered;
    });
    const { status, json } = await upload(t.url, token, { name: 'hidden.png', bytes: hidden });
    expect(status).toBe(201);
    expect(json.metadata).toMatchObject({ width: 100, height: 100, hasAlpha: true, frames: 1, animated: false });
    const meta = await sharp(await download(json.id)).metadata();
    expect([meta.width, meta.height]).toEqual([100, 100]);
  });
});
