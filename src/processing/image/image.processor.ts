import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { rgbaToThumbHash } from 'thumbhash';
import { bytesOf } from '../../common/bytes-of.js';
import { MediaError } from '../../errors.js';
import { phashOfImage } from '../../moderation/phash.js';
import { renderPreviews } from '../previews.js';
import type { Processor, ProcessInput, ProcessResult, Rendition } from '../processor.js';
import { type ApngAnimation, apngAnimation, decodeApngFrames } from './apng.js';
import { heifToPng } from './heif-convert.js';
import { endsWithImage } from './image-end.js';
import { type ImageLimits, refuseImageOverLimits } from '../declared-limits.js';
import { cameraInfo } from './image-metadata.js';
import { type ImageOutput, type ImageProbe, planImage } from './image-plan.js';

const TIMEOUT = { seconds: 30 };
const THUMBHASH_BOX = 100;

/**
 * Images: probe → plan → decode once (any decode error is CORRUPT_FILE) → the stored
 * version (orientation applied, EXIF/XMP/IPTC dropped, ICC profile kept), three WebP
 * previews and a ThumbHash, all from clones of the one decoded input.
 */
export class ImageProcessor implements Processor {
  readonly type = 'image';

  constructor(private readonly limits: ImageLimits) {}

  async process(input: ProcessInput): Promise<ProcessResult> {
    const original = await bytesOf(await input.open());
    const meta = await sharp(original, { animated: true, limitInputPixels: false }).metadata().catch(corrupt);
    const heic = input.format.ext === 'heic';
    // libvips reads only an APNG's default image: its frames are counted from its chunks and decoded by FFmpeg.
    const apng = input.format.ext === 'png' ? apngAnimation(original) : undefined;
    const probe = this.probe(meta, heic, endsWithImage(original, input.format.ext), apng);
    const plan = planImage(probe);
    const { base, still } = apng
      ? await this.apngDecoded(original, probe, input)
      : await this.decoded(original, probe, heic, input);
    const animation = apng && { delay: apng.delays, loop: apng.loop };
    const [encoded, previews, thumbhash, phashes] = await Promise.all([
      input.previewsOnly
        ? undefined
        : encode(base.clone(), plan.output, join(input.workDir, 'stored'), animation).catch(corrupt),
      renderPreviews(still, plan.width, plan.height).catch(corrupt),
      thumbHash(still.clone()).catch(corrupt),
      // Screening's pHash, from the same decoded picture, beside the rest (not after it, from a second decode).
      input.previewsOnly ? undefined : phashOfImage(still).then((phash) => [phash], corrupt),
    ]);
    const keep = !encoded || (plan.mayKeepOriginal && encoded.size >= original.length);
    const storedExt = keep ? input.format.ext : encoded.ext;
    return {
      stored: keep ? undefined : encoded,
      previews,
      phashes,
      metadata: {
        width: plan.width,
        height: plan.height,
        format: storedExt === 'jpg' ? 'jpeg' : storedExt,
        hasAlpha: probe.hasAlpha,
        animated: probe.frames > 1,
        frames: probe.frames,
        orientationApplied: probe.orientation !== 1,
        thumbhash,
        ...cameraInfo(meta.exif),
      },
    };
  }

  /** The decoded image (all its frames) and its first frame, for previews. */
  private async decoded(original: Buffer, probe: ImageProbe, heic: boolean, input: ProcessInput): Promise<Decoded> {
    // HEVC is decoded by libheif's tool; everything else by libvips from memory.
    const decodable = heic ? await this.heifDecoded(original, input) : original;
    const options = {
      animated: probe.frames > 1,
      limitInputPixels: this.limits.maxPixels,
      failOn: 'truncated' as const,
    };
    const base = sharp(decodable, options).rotate().timeout(TIMEOUT);
    const still =
      probe.frames > 1
        ? sharp(decodable, { ...options, animated: false, pages: 1 })
            .rotate()
            .timeout(TIMEOUT)
        : base;
    return { base, still };
  }

  /**
   * An APNG's frames, composed by FFmpeg, as one raw image of stacked pages (only the first
   * when only previews are wanted). EXIF orientation is not applied to them (see probe).
   */
  private async apngDecoded(original: Buffer, probe: ImageProbe, input: ProcessInput): Promise<Decoded> {
    const { width, height } = probe;
    const channels = probe.hasAlpha ? 4 : 3;
    const frames = input.previewsOnly ? 1 : probe.frames;
    const raw = await decodeApngFrames(original, { width, height, channels, frames }, input.workDir, input.signal);
    const limitInputPixels = this.limits.maxPixels;
    const base = sharp(raw, {
      raw: { width, height: height * frames, channels, pageHeight: height },
      limitInputPixels,
    }).timeout(TIMEOUT);
    const still = sharp(raw.subarray(0, width * height * channels), {
      raw: { width, height, channels },
      limitInputPixels,
    }).timeout(TIMEOUT);
    return { base, still };
  }

  private probe(meta: sharp.Metadata, heic: boolean, endsClean: boolean, apng?: ApngAnimation): ImageProbe {
    const frames = apng?.frames ?? meta.pages ?? 1;
    const height = meta.pageHeight ?? meta.height;
    if (!meta.width || !height) throw new MediaError('CORRUPT_FILE', 'The image has no dimensions');
    refuseImageOverLimits({ width: meta.width, height, frames }, this.limits);
    return {
      format: meta.format,
      width: meta.width,
      height,
      frames,
      hasAlpha: Boolean(meta.hasAlpha),
      // FFmpeg composes an APNG's frames without its eXIf orientation: they are stored as drawn.
      orientation: apng ? 1 : (meta.orientation ?? 1),
      hasMetadata: Boolean(meta.exif || meta.xmp || meta.iptc),
      mustConvert: heic,
      endsWithImage: endsClean,
    };
  }

  private async heifDecoded(original: Buffer, input: ProcessInput): Promise<Buffer> {
    const path = join(input.workDir, 'input.heic');
    await writeFile(path, original, { mode: 0o600 });
    return readFile(await heifToPng(path, input.workDir, input.signal));
  }
}

/** The decoded image to encode, and the still (its first frame) that previews and the ThumbHash come from. */
interface Decoded {
  base: Sharp;
  still: Sharp;
}

/** `animation`: frame delays and loop count of frames that carry none (raw APNG frames); others keep their own. */
/** Encodes the stored version into the file `stem`.<ext>; answers it with its size. */
async function encode(
  image: Sharp,
  output: ImageOutput,
  stem: string,
  animation?: { delay: number[]; loop: number },
): Promise<Rendition & { size: number }> {
  image.keepIccProfile();
  const encoder = encoderFor(image, output, animation);
  const path = `${stem}.${encoder.ext}`;
  const { size } = await encoder.image.toFile(path);
  return { path, mime: encoder.mime, ext: encoder.ext, size };
}

function encoderFor(
  image: Sharp,
  output: ImageOutput,
  animation?: { delay: number[]; loop: number },
): { image: Sharp; mime: string; ext: string } {
  switch (output.format) {
    case 'jpeg':
      return { image: image.jpeg({ quality: output.quality, mozjpeg: true }), mime: 'image/jpeg', ext: 'jpg' };
    case 'png':
      return { image: image.png({ compressionLevel: 9, adaptiveFiltering: true }), mime: 'image/png', ext: 'png' };
    case 'webp':
      return {
        image: image.webp({ quality: output.quality, effort: 4, ...animation }),
        mime: 'image/webp',
        ext: 'webp',
      };
  }
}

async function thumbHash(image: Sharp): Promise<string> {
  const { data, info } = await image
    .resize(THUMBHASH_BOX, THUMBHASH_BOX, { fit: 'inside' })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return Buffer.from(rgbaToThumbHash(info.width, info.height, data)).toString('base64');
}

function corrupt(error: unknown): never {
  if (error instanceof MediaError) throw error;
  throw new MediaError('CORRUPT_FILE', 'The image is damaged and cannot be decoded', { cause: error });
}
