import sharp from 'sharp';
import { readZipEntries } from '../detection/zip-directory.js';
import { MediaError } from '../errors.js';
import { judgeArchive } from './archive/archive-verdict.js';
import type { ProcessInput } from './processor.js';

export interface ImageLimits {
  maxPixels: number;
  maxFrames: number;
}

/** Image headers (PNG IHDR, JPEG SOF, WebP, GIF, HEIF ispe) sit at the start; a bomb's are within its first MiB. */
const IMAGE_HEAD_BYTES = 1024 * 1024;

/** 413 for an image above the pixel or frame limits: from its header before the scan, and again from its decoder (image.processor.ts). */
export function refuseImageOverLimits(
  image: { width: number; height: number; frames: number },
  limits: ImageLimits,
): void {
  if (image.frames > limits.maxFrames)
    throw new MediaError('FILE_TOO_LARGE', `The animation has more than ${limits.maxFrames} frames`);
  if (image.width * image.height * image.frames > limits.maxPixels) {
    throw new MediaError('FILE_TOO_LARGE', `The image is larger than ${Math.round(limits.maxPixels / 1e6)} megapixels`);
  }
}

/**
 * What a file declares of itself, read without decoding anything: pixels and frames of an
 * image, entries and expanded sizes in a ZIP's central directory. Checked before the
 * antivirus scan, so that a bomb is refused (413/422) at once instead of spending clamd's
 * scan-time limit, retry after retry. The processors check the same and more once the
 * file is decoded; a header that does not parse here is left to them.
 */
export async function refuseByDeclaration(
  input: Pick<ProcessInput, 'format' | 'file'>,
  limits: ImageLimits,
): Promise<void> {
  if (input.format.type === 'image') {
    const head = await input.file.read(0, Math.min(input.file.size, IMAGE_HEAD_BYTES));
    const meta = await sharp(head, { animated: true, limitInputPixels: false })
      .metadata()
      .catch(() => undefined);
    const height = meta?.pageHeight ?? meta?.height;
    if (meta?.width && height) refuseImageOverLimits({ width: meta.width, height, frames: meta.pages ?? 1 }, limits);
  }
  if (input.format.ext === 'zip') judgeArchive(await readZipEntries(input.file));
}
