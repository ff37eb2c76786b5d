import type { Response } from 'express';

/** Raster images, video and audio may be shown inline; everything else is a download. */
export function isInlineType(mimeType: string): boolean {
  return /^(image|video|audio)\//.test(mimeType) && !mimeType.startsWith('image/svg');
}

/** `attachment; filename="..."; filename*=UTF-8''...` (RFC 6266), with a safe ASCII fallback. */
export function contentDisposition(kind: 'inline' | 'attachment', name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

/** The headers of CONTRACT §2 "Downloads" that every served file carries. */
export function setDownloadHeaders(res: Response, file: { mimeType: string; name: string; etag: string }): void {
  res.setHeader('Content-Type', file.mimeType);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Security-Policy', "default-src 'none'; sandbox");
  res.setHeader('Content-Disposition', contentDisposition(isInlineType(file.mimeType) ? 'inline' : 'attachment', file.name));
  res.setHeader('ETag', file.etag);
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('Cache-Control', 'private, no-cache');
}

/** True when If-None-Match names this ETag (weak comparison, RFC 9110 §13.1.2). */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}
