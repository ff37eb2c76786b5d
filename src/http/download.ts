import { create as createDisposition } from 'content-disposition';
import fresh from 'fresh';
import type { ByteRange } from '../storage/blob-store.js';
import { parseRange } from './range.js';

/** The request headers a download answer depends on. */
export interface DownloadRequest {
  method: string;
  range?: string;
  ifNoneMatch?: string;
  ifRange?: string;
}

export interface DownloadTarget {
  size: number;
  etag: string;
  mimeType: string;
  name: string;
  cacheControl?: string;
}

/** What to answer: the status, its headers, and which bytes (if any) to send. */
export interface DownloadPlan {
  status: 200 | 206 | 304 | 416;
  headers: Record<string, string>;
  /** Absent: the whole file. */
  range?: ByteRange;
  /** False for HEAD, 304 and 416: nothing is read or decrypted. */
  sendBody: boolean;
}

/**
 * Decides a download's answer from its conditional and range headers (RFC 9110 §13-14):
 * If-None-Match → 304; If-Range that does not match → the whole file; one satisfiable
 * range → 206; a range past the end → 416; several ranges → the whole file.
 */
export function planResponse(request: DownloadRequest, file: DownloadTarget): DownloadPlan {
  const validators = { ETag: file.etag, 'Cache-Control': file.cacheControl ?? 'private, no-cache' };
  if (matchesIfNoneMatch(request.ifNoneMatch, file.etag)) return { status: 304, headers: validators, sendBody: false };
  const wanted =
    request.ifRange && request.ifRange !== file.etag
      ? ({ kind: 'none' } as const)
      : parseRange(request.range, file.size);
  if (wanted.kind === 'unsatisfiable')
    return { status: 416, headers: { 'Content-Range': `bytes */${file.size}` }, sendBody: false };
  const headers = { ...contentHeaders(file), ...validators };
  const sendBody = request.method !== 'HEAD';
  if (wanted.kind === 'none')
    return { status: 200, headers: { ...headers, 'Content-Length': String(file.size) }, sendBody };
  const { start, end } = wanted.range;
  return {
    status: 206,
    headers: {
      ...headers,
      'Content-Range': `bytes ${start}-${end}/${file.size}`,
      'Content-Length': String(end - start + 1),
    },
    range: wanted.range,
    sendBody,
  };
}

/** The headers of docs/api.md "Downloads" that every served file carries. */
function contentHeaders(file: DownloadTarget): Record<string, string> {
  return {
    'Content-Type': file.mimeType,
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': "default-src 'none'; sandbox",
    'Content-Disposition': contentDisposition(isInlineType(file.mimeType) ? 'inline' : 'attachment', file.name),
    'Accept-Ranges': 'bytes',
  };
}

/** Raster images, video and audio may be shown inline; everything else is a download. */
export function isInlineType(mimeType: string): boolean {
  return /^(image|video|audio)\//.test(mimeType) && !mimeType.startsWith('image/svg');
}

/**
 * `attachment; filename="..."` (RFC 6266), with `filename*=UTF-8''...` (RFC 8187) when the
 * name is not plain ASCII. The fallback is ASCII only: a Latin-1 byte in a header is read
 * differently by different clients.
 */
export function contentDisposition(kind: 'inline' | 'attachment', name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  return createDisposition(name, { type: kind, fallback });
}

/** True when If-None-Match names this ETag (weak comparison, RFC 9110 §13.1.2, by the `fresh` package). */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  return Boolean(header) && fresh({ 'if-none-match': header }, { etag });
}
