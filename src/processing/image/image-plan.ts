/** What a probe of the decoded image says (from sharp's metadata). */
export interface ImageProbe {
  format: string;
  width: number;
  /** Height of one frame. */
  height: number;
  frames: number;
  hasAlpha: boolean;
  /** EXIF orientation, 1 when absent. */
  orientation: number;
  /** The upload carries EXIF, XMP or IPTC that must not be stored. */
  hasMetadata: boolean;
  /** A format not every client can show (HEIC): never stored as it came. */
  mustConvert: boolean;
  /** Nothing follows the end of the image's own structure (see imageEnd): no appended ZIP or script. */
  endsWithImage: boolean;
}

export type ImageOutput =
  { format: 'jpeg'; quality: number } | { format: 'png' } | { format: 'webp'; quality: number; animated: boolean };

export interface ImagePlan {
  output: ImageOutput;
  /** May the upload be stored as it came when the re-encoded version is not smaller? */
  mayKeepOriginal: boolean;
  /** Width and height after orientation. */
  width: number;
  height: number;
}

/**
 * JPEG quality from the pixel count: 88 − 4·log2(megapixels), within 70–95. Small images
 * (stickers, avatars) keep detail (0.25 MP → 95, 1 MP → 88); large photos, viewed scaled
 * down on phones, save the most (4 MP → 80, 12 MP → 74, 48 MP and up → 70).
 */
export function jpegQuality(width: number, height: number): number {
  const megapixels = Math.max((width * height) / 1e6, 1e-6);
  return Math.round(Math.min(95, Math.max(70, 88 - 4 * Math.log2(megapixels))));
}

/**
 * Decides the stored version: animated images become animated WebP; images with alpha stay
 * in a format with alpha (WebP in, WebP out; else PNG); everything else becomes JPEG. The
 * upload is kept as it came only when re-encoding does not make it smaller AND it carries
 * nothing to remove (no EXIF/XMP/IPTC, no orientation to apply, not HEIC, which clients
 * cannot all show, and nothing after the end of the image: a polyglot is stored re-encoded).
 */
export function planImage(probe: ImageProbe): ImagePlan {
  const rotated = probe.orientation >= 5 && probe.orientation <= 8;
  const [width, height] = rotated ? [probe.height, probe.width] : [probe.width, probe.height];
  const quality = jpegQuality(width, height);
  let output: ImageOutput;
  if (probe.frames > 1) output = { format: 'webp', quality, animated: true };
  else if (probe.hasAlpha)
    output = probe.format === 'webp' ? { format: 'webp', quality, animated: false } : { format: 'png' };
  else output = { format: 'jpeg', quality };
  const mayKeepOriginal = !probe.hasMetadata && probe.orientation === 1 && !probe.mustConvert && probe.endsWithImage;
  return { output, mayKeepOriginal, width, height };
}
