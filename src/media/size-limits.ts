import { MediaError } from '../errors.js';
import { MEDIA_TYPE_TABLE, type MediaType } from '../detection/media-types.js';

/** Of `types`, the one with the largest limit, and that limit. */
export function largestLimit(maxBytes: Record<MediaType, number>, types: readonly MediaType[]): [MediaType, number] {
  const type = types.reduce((best, t) => (maxBytes[t] > maxBytes[best] ? t : best));
  return [type, maxBytes[type]];
}

/**
 * 413 for a file that may still be any of `types` (all of them before its first bytes are
 * seen): the largest of their limits, named for the type when there is one.
 */
export function tooLargeFor(maxBytes: Record<MediaType, number>, types: readonly MediaType[]): MediaError {
  const [type, limit] = largestLimit(maxBytes, types);
  if (types.length === 1) return fileTooLarge(type, limit);
  return new MediaError(
    'FILE_TOO_LARGE',
    `The file is larger than ${formatBytes(limit)}, the most accepted for any supported type`,
  );
}

/** 413 naming the type and its limit, so a user knows what would be accepted. */
export function fileTooLarge(type: MediaType, limit: number): MediaError {
  return new MediaError(
    'FILE_TOO_LARGE',
    `The file is larger than the ${formatBytes(limit)} limit for ${MEDIA_TYPE_TABLE[type].plural}`,
  );
}

/** 1536 → "1.5 KB", 26214400 → "25 MB" (binary units, as the limits are configured). */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KB', 'MB', 'GB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[unit]}`;
}
