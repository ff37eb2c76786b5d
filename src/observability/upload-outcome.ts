import { isMediaError } from '../errors.js';
import type { Metrics } from './metrics.js';
import { observation } from './observation.js';

/** Why an upload was refused, by error code: the `reason` of media_upload_rejections_total. */
const REASONS: Record<string, string> = {
  CORRUPT_FILE: 'corrupt',
  MALWARE_DETECTED: 'malware',
  UNSUPPORTED_MEDIA_TYPE: 'type',
  FILE_TOO_LARGE: 'size',
  QUOTA_EXCEEDED: 'quota',
  DAILY_UPLOAD_LIMIT: 'rate',
  RATE_LIMITED: 'rate',
  TOO_MANY_CONCURRENT_UPLOADS: 'rate',
};

/**
 * Counts one finished upload, from either edge (multipart or the completing tus PATCH): by
 * media type and outcome, its bytes when accepted, and its reason when refused. A content
 * refusal names what refused it (blocklist or moderation).
 */
export function countUpload(
  metrics: Metrics,
  finished: { outcome: 'created' | 'duplicate'; bytes: number } | { error: unknown },
): void {
  const mediaType = observation()?.mediaType ?? 'unknown';
  if ('outcome' in finished) {
    metrics.uploads.inc({ media_type: mediaType, outcome: finished.outcome });
    if (finished.outcome === 'created') metrics.uploadBytes.inc({ media_type: mediaType }, finished.bytes);
    return;
  }
  const { error } = finished;
  const code = isMediaError(error) ? error.code : 'INTERNAL_ERROR';
  metrics.uploads.inc({ media_type: mediaType, outcome: code });
  const reason =
    code === 'CONTENT_REJECTED' ? ((error as { kind?: string }).kind ?? 'moderation') : (REASONS[code] ?? undefined);
  if (reason) metrics.rejections.inc({ reason });
}
