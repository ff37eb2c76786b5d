import type { Probe } from '../../../src/processing/av/ffmpeg';
import { type ImageProbe, jpegQuality, planImage } from '../../../src/processing/image/image-plan';
import { framesPerSecond, planVideo, transcodeArgs } from '../../../src/processing/video/video-plan';

/** The planners decide what the adapters run: tables of inputs and the decisions they must give. */
describe('jpegQuality', () => {
  it.each([
    [500, 500, 95],
    [1000, 1000, 88],
    [2000, 2000, 80],
    [4000, 3000, 74],
    [8000, 6000, 70],
    [1, 1, 95],
  ])('%i×%i → %i', (width, height, quality) => {
    expect(jpegQuality(width, height)).toBe(quality);
  });
});

describe('planImage', () => {
  const photo: ImageProbe = {
    format: 'jpeg',
    width: 4000,
    height: 3000,
    frames: 1,
    hasAlpha: false,
    orientation: 1,
    hasMetadata: false,
    mustConvert: false,
    endsWithImage: true,
  };
  it.each<[string, Partial<ImageProbe>, { output: object; mayKeepOriginal: boolean; width: number; height: number }]>([
    [
      'a clean photo',
      {},
      { output: { format: 'jpeg', quality: 74 }, mayKeepOriginal: true, width: 4000, height: 3000 },
    ],
    [
      'a photo with EXIF',
      { hasMetadata: true },
      { output: { format: 'jpeg', quality: 74 }, mayKeepOriginal: false, width: 4000, height: 3000 },
    ],
    [
      'a photo turned by orientation 6',
      { orientation: 6 },
      { output: { format: 'jpeg', quality: 74 }, mayKeepOriginal: false, width: 3000, height: 4000 },
    ],
    [
      'a photo turned by orientation 3 (upside down)',
      { orientation: 3 },
      { output: { format: 'jpeg', quality: 74 }, mayKeepOriginal: false, width: 4000, height: 3000 },
    ],
    [
      'a HEIC',
      { format: 'heif', mustConvert: true },
      { output: { format: 'jpeg', quality: 74 }, mayKeepOriginal: false, width: 4000, height: 3000 },
    ],
    [
      'a polyglot (bytes after the image)',
      { endsWithImage: false },
      { output: { format: 'jpeg', quality: 74 }, mayKeepOriginal: false, width: 4000, height: 3000 },
    ],
    [
      'a PNG with alpha',
      { format: 'png', hasAlpha: true, width: 512, height: 512 },
      { output: { format: 'png' }, mayKeepOriginal: true, width: 512, height: 512 },
    ],
    [
      'a WebP with alpha',
      { format: 'webp', hasAlpha: true, width: 512, height: 512 },
      { output: { format: 'webp', quality: 95, animated: false }, mayKeepOriginal: true, width: 512, height: 512 },
    ],
    [
      'an animation',
      { format: 'gif', frames: 12, width: 320, height: 240 },
      { output: { format: 'webp', quality: 95, animated: true }, mayKeepOriginal: true, width: 320, height: 240 },
    ],
  ])('%s', (_label, change, plan) => {
    expect(planImage({ ...photo, ...change })).toEqual(plan);
  });
});

describe('planVideo', () => {
  const probe = (video: object, ...audio: object[]): Probe =>
    ({
      format: { duration: '10' },
      streams: [{ codec_type: 'video', ...video }, ...audio.map((a) => ({ codec_type: 'audio', ...a }))],
    }) as unknown as Probe;
  const h264 = { codec_name: 'h264', width: 1920, height: 1080 };
  it.each<[string, Probe, string, boolean]>([
    ['H.264 + AAC 1080p in MP4', probe(h264, { codec_name: 'aac' }), 'mp4', true],
    ['H.264 without audio in MOV (remuxed to MP4)', probe(h264), 'mov', true],
    ['H.264 portrait 1080×1920', probe({ ...h264, width: 1080, height: 1920 }, { codec_name: 'aac' }), 'mp4', true],
    ['H.264 4K', probe({ ...h264, width: 3840, height: 2160 }, { codec_name: 'aac' }), 'mp4', false],
    ['H.264 + MP3', probe(h264, { codec_name: 'mp3' }), 'mp4', false],
    ['HEVC', probe({ ...h264, codec_name: 'hevc' }, { codec_name: 'aac' }), 'mp4', false],
    ['VP8 in WebM', probe({ ...h264, codec_name: 'vp8' }, { codec_name: 'vorbis' }), 'webm', false],
    ['H.264 in AVI', probe(h264, { codec_name: 'aac' }), 'avi', false],
  ])('%s → compliant %s', (_label, probed, ext, compliant) => {
    expect(planVideo(probed, ext, 10_000).compliant).toBe(compliant);
  });

  it.each([
    [10_000, 1],
    [1_000, 0.5],
    [200, 0.1],
  ])('takes the preview frame of a %i ms video at %s s', (durationMs, seconds) => {
    expect(planVideo(probe(h264), 'mp4', durationMs).frameAtSeconds).toBe(seconds);
  });
});

describe('transcodeArgs', () => {
  const scaleOf = (args: string[]) => args[args.indexOf('-vf') + 1];
  it.each([
    [1920, 1080, 'scale=1920:1080'],
    [3840, 2160, 'scale=1920:1080'],
    [2160, 3840, 'scale=1080:1920'],
    [1280, 720, 'scale=1280:720'],
    [321, 241, 'scale=322:242'],
    [4000, 1000, 'scale=1920:480'],
  ])('%i×%i → %s', (width, height, scale) => {
    expect(scaleOf(transcodeArgs(width, height))).toBe(scale);
  });

  it('drops every metadata tag and chapter and writes H.264/AAC MP4 with its index first', () => {
    const args = transcodeArgs(640, 480).join(' ');
    expect(args).toContain('-c:v libx264');
    expect(args).toContain('-c:a aac');
    expect(args).toContain('-map_metadata -1');
    expect(args).toContain('-map_chapters -1');
    expect(args).toContain('-movflags +faststart -f mp4');
  });
});

describe('framesPerSecond', () => {
  it.each([
    ['30000/1001', 29.97],
    ['25/1', 25],
    ['0/0', undefined],
    [undefined, undefined],
    ['garbage', undefined],
  ])('%s → %s', (rate, fps) => {
    expect(framesPerSecond(rate)).toBe(fps);
  });
});
