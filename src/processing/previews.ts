import type { Sharp } from 'sharp';
import { stage } from '../observability/observation.js';
import { PREVIEW_SIZES, type PreviewImage, type PreviewSize, type ProcessResult } from './processor.js';

/** The size of a preview fitting inside `box`, never larger than the image. */
export function previewDimensions(width: number, height: number, box: PreviewSize): { width: number; height: number } {
  const scale = Math.min(1, box / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/** The three WebP previews of one decoded picture (`width` × `height`), each from a clone of it: the "preview" stage. */
export function renderPreviews(picture: Sharp, width: number, height: number): Promise<PreviewImage[]> {
  return stage('preview', () => render(picture, width, height));
}

function render(picture: Sharp, width: number, height: number): Promise<PreviewImage[]> {
  return Promise.all(
    PREVIEW_SIZES.map(async (size) => {
      const box = previewDimensions(width, height, size);
      const data = await picture
        .clone()
        .resize(box.width, box.height, { fit: 'fill' })
        .webp({ quality: 80 })
        .toBuffer();
      return { size, ...box, data };
    }),
  );
}

/**
 * Previews if they render: one that fails leaves the media without previews for now, and a
 * worker tries again later (`previewsFailed`); it never fails the upload.
 */
export async function previewsIfPossible(
  render: () => Promise<PreviewImage[]>,
): Promise<Pick<ProcessResult, 'previews' | 'previewsFailed'>> {
  try {
    return { previews: await render() };
  } catch {
    return { previews: [], previewsFailed: true };
  }
}
