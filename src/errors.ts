/**
 * The one registry of error codes (docs/api.md, "Error table"), with the HTTP status and
 * the gRPC status name of each. Code throws MediaError; the HTTP filter and the gRPC
 * server translate it. Messages are written for clients: they never carry a stack trace,
 * a path or another user's data.
 */
export const ERRORS = {
  VALIDATION_FAILED: { status: 400, grpc: 'INVALID_ARGUMENT', message: 'The request is malformed' },
  UNAUTHORIZED: { status: 401, grpc: 'UNAUTHENTICATED', message: 'Missing, invalid or expired credentials' },
  FORBIDDEN: { status: 403, grpc: 'PERMISSION_DENIED', message: 'You are not allowed to do this' },
  NOT_FOUND: { status: 404, grpc: 'NOT_FOUND', message: 'Not found' },
  MEDIA_NOT_READY: { status: 409, grpc: 'FAILED_PRECONDITION', message: 'The media is still being processed' },
  FILE_TOO_LARGE: { status: 413, grpc: 'INVALID_ARGUMENT', message: 'The file is larger than the limit for its type' },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    grpc: 'INVALID_ARGUMENT',
    message: 'The file is not one of the supported formats',
  },
  CORRUPT_FILE: { status: 422, grpc: 'INVALID_ARGUMENT', message: 'The file is damaged and cannot be read' },
  CONTENT_REJECTED: { status: 422, grpc: 'FAILED_PRECONDITION', message: 'The content was rejected by moderation' },
  MALWARE_DETECTED: {
    status: 422,
    grpc: 'FAILED_PRECONDITION',
    message: 'The file was rejected by the antivirus scan',
  },
  RANGE_NOT_SATISFIABLE: { status: 416, grpc: 'OUT_OF_RANGE', message: 'The requested range is not satisfiable' },
  RATE_LIMITED: { status: 429, grpc: 'RESOURCE_EXHAUSTED', message: 'Too many requests' },
  DAILY_UPLOAD_LIMIT: { status: 429, grpc: 'RESOURCE_EXHAUSTED', message: 'Daily upload limit reached' },
  TOO_MANY_CONCURRENT_UPLOADS: { status: 429, grpc: 'RESOURCE_EXHAUSTED', message: 'Too many uploads in progress' },
  INTERNAL_ERROR: { status: 500, grpc: 'INTERNAL', message: 'Internal error' },
  DEPENDENCY_UNAVAILABLE: { status: 503, grpc: 'UNAVAILABLE', message: 'A required dependency is unavailable' },
  QUOTA_EXCEEDED: { status: 507, grpc: 'RESOURCE_EXHAUSTED', message: 'The upload would exceed your storage quota' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export interface MediaErrorOptions {
  /** The HTTP status, where a protocol fixes another than the code's (tus: 409 offset, 410 gone, 412 version, 460 checksum). */
  status?: number;
  /** Seconds for the Retry-After header. */
  retryAfter?: number;
  cause?: unknown;
}

export class MediaError extends Error {
  readonly status: number;
  readonly retryAfter?: number;

  constructor(
    readonly code: ErrorCode,
    message: string = ERRORS[code].message,
    options: MediaErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'MediaError';
    this.status = options.status ?? ERRORS[code].status;
    this.retryAfter = options.retryAfter;
  }
}

export function isMediaError(error: unknown, code?: ErrorCode): error is MediaError {
  return error instanceof MediaError && (code === undefined || error.code === code);
}
