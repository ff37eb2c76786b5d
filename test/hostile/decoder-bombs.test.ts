import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { startTestApp, type TestApp } from '../support/app';
import { blobFiles, expectUnharmed, pngChunk, withChunksAfterHeader } from '../support/hostile';
import { request, upload } from '../support/http';
import { seededRandom } from '../support/random';
import { jpegSized, pngSized, resized, webpSized } from '../support/bombs';
import { ffmpeg, lavfi } from '../support/ffmpeg';

/*
 * Decompression bombs: a small file that declares (or inflates to) far more than it
 * carries. Each is refused from what it declares before anything is decoded (413 for a
 * size above a limit, 422 for a structure that does not hold), or accepted without the
 * bomb ever being expanded; the answer comes fast and the process's memory stays bounded.
 */

jest.setTimeout(180_000);
const work = mkdtempSync(join(tmpdir(), 'media-test-hostile-bombs-'));
const MB = 1024 * 1024;
let owners = 0;

describe('decompression bombs', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.close();
    rmSync(work, { recursive: true, force: true });
  });

  /** Uploads as a new user, sampling this process's RSS meanwhile; returns the reply, the peak growth and the time taken. */
  async function attempt(name: string, bytes: Buffer) {
    const owner = `bomber-${++owners}`;
    const token = await t.token(owner);
    const blobsBefore = blobFiles(t).length;
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const started = Date.now();
    try {
      const reply = await upload(t.url, token, { name, bytes });
      return { reply, ms: Date.now() - started, grewBy: peak - baseline, kept: { owner, token, blobsBefore } };
    } finally {
      clearInterval(sampler);
    }
  }

  describe('images declaring more pixels than MAX_IMAGE_PIXELS → 413 before decoding', () => {
    it.each([
      ['a PNG whose IHDR says 100000×100000', 'huge.png', () => pngSized(100_000, 100_000)],
      ['a JPEG whose SOF says 65000×65000', 'huge.jpg', () => jpegSized(65_000, 65_000)],
      ['a lossless WebP whose header says 8000×8000', 'huge.webp', () => webpSized(8000, 8000)],
    ])('%s', async (_label, name, make) => {
      const { reply, grewBy, kept } = await attempt(name, await make());
      expect([reply.status, reply.json?.code]).toEqual([413, 'FILE_TOO_LARGE']);
      expect(grewBy).toBeLessThan(200 * MB);
      await expectUnharmed(t, { ...kept, refused: true });
    });
  });

  it('a GIF of 5000 frames → 413 (more than MAX_ANIMATION_FRAMES), fast', async () => {
    const { reply, kept } = await attempt('spinner.gif', gifOfFrames(5000, 64, 64));
    expect([reply.status, reply.json?.code]).toEqual([413, 'FILE_TOO_LARGE']);
    expect(reply.json.message).toMatch(/frames/);
    await expectUnharmed(t, { ...kept, refused: true });
  });

  describe('ancillary-chunk bombs: accepted as the image, the chunk neither expanded nor kept', () => {
    // 1 GiB of one byte deflates to about 1 MiB.
    const bomb = deflateSync(Buffer.alloc(1024 * MB, 0x41), { level: 9 });
    it.each([
      ['zTXt', () => pngChunk('zTXt', Buffer.concat([Buffer.from('Comment\0\0'), bomb]))],
      [
        'iTXt (compressed XMP)',
        () => pngChunk('iTXt', Buffer.concat([Buffer.from('XML:com.adobe.xmp\0'), Buffer.from([1, 0, 0, 0]), bomb])),
      ],
    ])('a PNG with a 1 GiB %s chunk', async (_label, chunk) => {
      const png = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#336699' } })
        .png()
        .toBuffer();
      const { reply, grewBy, kept } = await attempt('chunky.png', withChunksAfterHeader(png, [chunk()]));
      expect(grewBy).toBeLessThan(300 * MB);
      if (reply.status === 201) {
        expect(reply.json).toMatchObject({ type: 'image', metadata: { width: 32, height: 32 } });
        expect(reply.json.size).toBeLessThan(64 * 1024); // the stored version dropped the chunk
        await expectUnharmed(t, { ...kept, refused: false });
      } else {
        expect([
          [413, 'FILE_TOO_LARGE'],
          [422, 'CORRUPT_FILE'],
        ]).toContainEqual([reply.status, reply.json?.code]);
        await expectUnharmed(t, { ...kept, refused: true });
      }
    });
  });

  describe('cover-art bombs inside audio: accepted as audio without the picture, or refused; never a crash or a hang', () => {
    const tone = (ext: string, codec: string[]) => {
      const path = join(work, `tone.${ext}`);
      ffmpeg(...lavfi('sine=frequency=440:duration=2'), ...codec, path);
      return readFileSync(path);
    };
    /** The same audio in an M4A with `picture` attached as its cover (stream copy: not decoded). */
    const m4aWithCover = (picture: Buffer, ext: string) => {
      writeFileSync(join(work, `cover.${ext}`), picture);
      writeFileSync(join(work, 'plain.m4a'), tone('m4a', ['-c:a', 'aac']));
      const out = join(work, 'covered.m4a');
      ffmpeg(
        '-i',
        join(work, 'plain.m4a'),
        '-i',
        join(work, `cover.${ext}`),
        '-map',
        '0',
        '-map',
        '1',
        '-c',
        'copy',
        '-disposition:v:0',
        'attached_pic',
        out,
      );
      return readFileSync(out);
    };
    let bigJpeg: Buffer;
    beforeAll(async () => {
      // About 20 MB of seeded noise at quality 100: a real, decodable 20 MB picture.
      bigJpeg = await noise(3200, 2400, 7).jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).toBuffer();
    });

    async function expectAudioOrRefused(name: string, bytes: Buffer) {
      const { reply, grewBy, kept } = await attempt(name, bytes);
      expect(grewBy).toBeLessThan(400 * MB);
      if (reply.status === 201) {
        expect(reply.json.type).toBe('audio');
        const stored = (await request(`${t.url}/api/v1/media/${reply.json.id}`, { token: kept.token })).body;
        expect(stored.length).toBeLessThan(2 * MB); // two seconds of audio, not the picture
        await expectUnharmed(t, { ...kept, refused: false });
      } else {
        expect([
          [413, 'FILE_TOO_LARGE'],
          [422, 'CORRUPT_FILE'],
        ]).toContainEqual([reply.status, reply.json?.code]);
        await expectUnharmed(t, { ...kept, refused: true });
      }
    }

    it('an MP3 with a 20 MB cover picture', async () => {
      expect(bigJpeg.length).toBeGreaterThan(15 * MB);
      await expectAudioOrRefused(
        'song.mp3',
        Buffer.concat([id3WithPicture(bigJpeg, 'image/jpeg'), tone('mp3', ['-c:a', 'libmp3lame', '-b:a', '64k'])]),
      );
    });

    it('an M4A with a 20 MB cover picture', async () => {
      await expectAudioOrRefused('song.m4a', m4aWithCover(bigJpeg, 'jpg'));
    });

    it('a tiny MP3 whose cover PNG declares 100000×100000', async () => {
      await expectAudioOrRefused(
        'tiny.mp3',
        Buffer.concat([
          id3WithPicture(await pngSized(100_000, 100_000), 'image/png'),
          tone('mp3', ['-c:a', 'libmp3lame', '-b:a', '64k']),
        ]),
      );
    });

    it('a tiny M4A whose cover PNG declares 100000×100000', async () => {
      const small = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } })
        .png()
        .toBuffer();
      const m4a = m4aWithCover(small, 'png');
      const at = m4a.indexOf(small.subarray(0, 33)); // its signature and IHDR, patched in place
      m4a.set(resized(small, 100_000, 100_000).subarray(0, 33), at);
      await expectAudioOrRefused('tiny.m4a', m4a);
    });
  });

  it('a video whose frames declare 20000×20000 (MJPEG in AVI, 6 KB) → 413 or 422, fast', async () => {
    const path = join(work, 'small.avi');
    ffmpeg(...lavfi('color=c=gray:size=64x64:rate=2:duration=2'), '-c:v', 'mjpeg', path);
    const avi = readFileSync(path);
    // AVI main header and stream format (BITMAPINFOHEADER), then every JPEG frame's SOF0.
    avi.writeUInt32LE(20_000, avi.indexOf('avih') + 8 + 32);
    avi.writeUInt32LE(20_000, avi.indexOf('avih') + 8 + 36);
    avi.writeInt32LE(20_000, avi.indexOf('strf') + 8 + 4);
    avi.writeInt32LE(20_000, avi.indexOf('strf') + 8 + 8);
    for (
      let at = avi.indexOf(Buffer.from([0xff, 0xc0]));
      at >= 0;
      at = avi.indexOf(Buffer.from([0xff, 0xc0]), at + 2)
    ) {
      avi.writeUInt16BE(20_000, at + 5);
      avi.writeUInt16BE(20_000, at + 7);
    }
    const { reply, grewBy, kept } = await attempt('huge.avi', avi);
    expect([
      [413, 'FILE_TOO_LARGE'],
      [422, 'CORRUPT_FILE'],
    ]).toContainEqual([reply.status, reply.json?.code]);
    expect(grewBy).toBeLessThan(400 * MB);
    await expectUnharmed(t, { ...kept, refused: true });
  });
});

function noise(width: number, height: number, seed: number): sharp.Sharp {
  const random = seededRandom(seed);
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (random() * 256) | 0;
  return sharp(pixels, { raw: { width, height, channels: 3 } });
}

/** A looping GIF of `frames` 1×1 frames on a `width`×`height` screen, written by hand (GIF89a). */
function gifOfFrames(frames: number, width: number, height: number): Buffer {
  const screen = Buffer.from([
    ...Buffer.from('GIF89a'),
    width & 255,
    width >> 8,
    height & 255,
    height >> 8,
    0x80,
    0,
    0,
    0,
    0,
    0,
    255,
    255,
    255,
  ]);
  const loop = Buffer.from([0x21, 0xff, 0x0b, ...Buffer.from('NETSCAPE2.0'), 3, 1, 0, 0, 0]);
  // Graphic control (10 cs), a 1×1 image at 0,0, LZW minimum code size 2: clear, index 0, end.
  const frame = Buffer.from([0x21, 0xf9, 4, 0, 10, 0, 0, 0, 0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 1, 0]);
  return Buffer.concat([screen, loop, ...Array<Buffer>(frames).fill(frame), Buffer.from([0x3b])]);
}

/** An ID3v2.3 tag holding one APIC (front cover) frame. */
function id3WithPicture(picture: Buffer, mime: string): Buffer {
  const body = Buffer.concat([Buffer.from([0]), Buffer.from(`${mime}\0`), Buffer.from([3, 0]), picture]);
  const frame = Buffer.alloc(10);
  frame.write('APIC', 0, 'latin1');
  frame.writeUInt32BE(body.length, 4);
  const size = frame.length + body.length;
  const syncsafe = [(size >> 21) & 0x7f, (size >> 14) & 0x7f, (size >> 7) & 0x7f, size & 0x7f];
  return Buffer.concat([Buffer.from([...Buffer.from('ID3'), 3, 0, 0, ...syncsafe]), frame, body]);
}
