import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  Query,
  Req,
  Res,
  UseInterceptors,
} from '@nestjs/common';
import { HoldsShutdown } from '../lifecycle/in-flight.js';
import {
  ApiBearerAuth,
  ApiBody,
  ApiConsumes,
  ApiExtraModels,
  ApiOperation,
  ApiQuery,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import { MediaError } from '../errors.js';
import { countUpload } from '../observability/upload-outcome.js';
import { Metrics } from '../observability/metrics.js';
import type { Caller } from '../access/caller.js';
import { type DownloadFile, MediaService } from '../media/media.service.js';
import { PREVIEW_SIZES } from '../processing/processor.js';
import { UploadService } from '../media/upload.service.js';
import { toMediaView } from '../media/media-view.js';
import { CurrentUser, SignedUrlAccepted } from './auth/decorators.js';
import { fieldsOf } from './json-body.js';
import { type Variant, VARIANTS } from '../access/signed-url.js';
import { planResponse } from './download.js';
import { abortedOnDisconnect } from './disconnect.js';
import { continueBody } from './early-answers.js';
import { MULTIPART_OVERHEAD, receiveFilePart } from './multipart.js';
import {
  MediaDto,
  METADATA_SCHEMAS,
  SignedUrlDto,
  SignedUrlRequestDto,
  StorageDto,
  TypeUsageDto,
  UploadDto,
} from './dto.js';
import { ApiDownload, ApiErrors, COMMON_ERRORS, type ErrorCase } from './openapi.js';
import { sendBody } from './send-body.js';

const { badId, token, rate, database, absent } = COMMON_ERRORS;
/** The errors of reading a stored file or a preview (docs/api.md, "Downloads"). */
const notReady: ErrorCase = ['MEDIA_NOT_READY', 'the media is still processing (Retry-After: 5)'];
const unsatisfiable: ErrorCase = [
  'RANGE_NOT_SATISFIABLE',
  'the one Range asked for starts past the end (Content-Range: bytes */<size>)',
];
const unreadable: ErrorCase = [
  'INTERNAL_ERROR',
  'the stored blob fails authentication before the first byte (after it, the connection is cut)',
];

/** Disappearing media: the least and most `expiresIn` of an upload (docs/api.md). */
export const MIN_EXPIRES_IN = 30;
export const MAX_EXPIRES_IN = 31_536_000;

const BASE_PATH = 'api/v1/media';
const UPLOAD_PATH = 'upload';
/** The read routes' patterns as Express names them (the metrics' route label, spans); the read lane names its requests the same. */
export const MEDIA_ROUTES = {
  file: `/${BASE_PATH}/:id`,
  metadata: `/${BASE_PATH}/:id/metadata`,
  preview: `/${BASE_PATH}/:id/preview`,
} as const;

/** An upload decides whether to take the body before reading it (`Expect: 100-continue`). */
export function isUploadRequest(req: IncomingMessage): boolean {
  return req.method === 'POST' && req.url?.split('?')[0] === `/${BASE_PATH}/${UPLOAD_PATH}`;
}

@ApiTags('media')
@ApiBearerAuth()
@ApiExtraModels(TypeUsageDto, ...METADATA_SCHEMAS)
@Controller(BASE_PATH)
export class MediaController {
  constructor(
    private readonly uploads: UploadService,
    @Inject(MediaService) private readonly media: MediaService,
    private readonly metrics: Metrics,
  ) {}

  @Post(UPLOAD_PATH)
  @UseInterceptors(HoldsShutdown)
  @ApiOperation({ summary: 'Upload one file (multipart/form-data, part "file")' })
  @ApiConsumes('multipart/form-data')
  @ApiBody({ type: UploadDto })
  @ApiQuery({
    name: 'expiresIn',
    required: false,
    schema: { type: 'integer', minimum: MIN_EXPIRES_IN, maximum: MAX_EXPIRES_IN },
    description: `Disappearing media: seconds (${MIN_EXPIRES_IN} to ${MAX_EXPIRES_IN}) until it expires; never a duplicate of another copy`,
  })
  @ApiResponse({ status: 201, type: MediaDto, description: 'Stored and ready' })
  @ApiResponse({
    status: 202,
    type: MediaDto,
    description: 'Stored and proven; its stored version is still being produced (status: processing)',
  })
  @ApiResponse({
    status: 200,
    type: MediaDto,
    description: 'The caller already has identical content; nothing new stored',
  })
  @ApiErrors({
    400: [
      [
        'VALIDATION_FAILED',
        'not multipart/form-data, malformed or cut short; no part named file, or any other part; an empty file; part headers over 16 KiB or a file name over 1024 bytes; ' +
          `expiresIn not a whole number from ${MIN_EXPIRES_IN} to ${MAX_EXPIRES_IN}, or given more than once`,
      ],
    ],
    401: [token],
    413: [
      [
        'FILE_TOO_LARGE',
        "over the size limit of the file's type (checked against Content-Length before the body is read, then while streaming); " +
          'an image over MAX_IMAGE_PIXELS or MAX_ANIMATION_FRAMES; video or audio longer than MAX_MEDIA_DURATION_SECONDS',
      ],
    ],
    415: [
      [
        'UNSUPPORTED_MEDIA_TYPE',
        'the bytes are none of the supported formats (the name and Content-Type are not trusted)',
      ],
    ],
    422: [
      [
        'CORRUPT_FILE',
        'a supported format that does not decode or parse, or an archive refused by its directory (paths outside the root, bomb ratios, too many entries)',
      ],
      ['CONTENT_REJECTED', 'a hash matches the blocklist, or moderation-service rejects the content'],
      ['MALWARE_DETECTED', 'clamd found something, or could not finish the scan'],
    ],
    429: [
      rate,
      ['DAILY_UPLOAD_LIMIT', 'QUOTA_DAILY_UPLOADS accepted uploads today (UTC); Retry-After points at UTC midnight'],
      [
        'TOO_MANY_CONCURRENT_UPLOADS',
        'UPLOAD_CONCURRENCY_PER_USER uploads of this user are in progress (Retry-After: 1)',
      ],
    ],
    503: [
      [
        'DEPENDENCY_UNAVAILABLE',
        'the database, clamd, the document renderer or (in closed mode) moderation-service is unavailable, the blocklist is not loaded yet, or the disk is full (Retry-After)',
      ],
    ],
    507: [
      [
        'QUOTA_EXCEEDED',
        "the upload would exceed the user's storage quota (QUOTA_STORAGE_BYTES); checked against Content-Length first",
      ],
    ],
  })
  async upload(@Req() req: Request, @Res() res: Response, @CurrentUser() user: Caller): Promise<void> {
    try {
      const expiresInSeconds = expiresInOf(req.query);
      const result = await this.uploads.upload({
        expiresInSeconds,
        ownerId: user.id,
        requestId: typeof req.id === 'string' ? req.id : undefined,
        minBytes: Math.max(0, Number(req.headers['content-length'] ?? 0) - MULTIPART_OVERHEAD),
        open: () => {
          continueBody(req, res);
          return receiveFilePart(req);
        },
        signal: abortedOnDisconnect(res),
      });
      countUpload(this.metrics, { outcome: result.outcome, bytes: result.media.originalSize });
      // 202: stored and proven, its stored version still being produced by a worker.
      const status = result.outcome === 'duplicate' ? 200 : result.media.status === 'processing' ? 202 : 201;
      res.status(status).json(result.media);
    } catch (error) {
      countUpload(this.metrics, { error });
      throw error;
    }
  }

  @Get('storage')
  @ApiOperation({ summary: "The caller's storage usage and limits" })
  @ApiResponse({ status: 200, type: StorageDto, description: "The caller's usage, per type too, and limits" })
  @ApiErrors({ 401: [token], 429: [rate], 503: [database] })
  storage(@CurrentUser() user: Caller): Promise<StorageDto> {
    return this.media.storage(user);
  }

  @Get(':id/metadata')
  @ApiOperation({ summary: 'The Media object' })
  @ApiResponse({ status: 200, type: MediaDto, description: 'The Media object, whatever its status' })
  @ApiErrors({ 400: [badId], 401: [token], 404: [absent], 429: [rate], 503: [database] })
  async metadata(@Param('id') id: string, @CurrentUser() user: Caller): Promise<MediaDto> {
    return toMediaView(await this.media.visible(id, user));
  }

  @Post(':id/signed-url')
  @ApiOperation({ summary: 'A URL that opens the file or one preview without a bearer token, until it expires' })
  @ApiBody({ type: SignedUrlRequestDto })
  @ApiResponse({ status: 201, type: SignedUrlDto, description: 'The URL (a path on this service) and its expiry' })
  @ApiErrors({
    400: [
      [
        'VALIDATION_FAILED',
        'the id is not a UUID; the body is not a JSON object of exactly { expiresIn, variant }, expiresIn is not 1 to 86400, or variant is unknown',
      ],
    ],
    401: [token],
    404: [absent],
    413: [['FILE_TOO_LARGE', 'the JSON body is larger than 64 KiB']],
    429: [rate],
    503: [database],
  })
  async signedUrl(@Param('id') id: string, @Body() body: unknown, @CurrentUser() user: Caller): Promise<SignedUrlDto> {
    const { expiresIn, variant } = fieldsOf(body, ['expiresIn', 'variant']);
    if (!VARIANTS.includes(variant as Variant))
      throw new MediaError('VALIDATION_FAILED', `variant must be one of ${VARIANTS.join(', ')}`);
    if (typeof expiresIn !== 'number')
      throw new MediaError('VALIDATION_FAILED', 'expiresIn must be a number of seconds');
    return this.media.mintSignedUrl(id, user, variant as Variant, expiresIn);
  }

  @Get(':id')
  @SignedUrlAccepted()
  @ApiQuery({
    name: 'token',
    required: false,
    type: String,
    description: 'A signed URL token (POST /media/{id}/signed-url), instead of a bearer token',
  })
  @ApiOperation({ summary: 'The stored file, decrypted and streamed; one byte range with Range' })
  @ApiDownload()
  @ApiErrors({
    400: [badId],
    401: [token],
    404: [['NOT_FOUND', `${absent[1]}; or its processing failed`]],
    409: [notReady],
    416: [unsatisfiable],
    429: [rate],
    500: [unreadable],
    503: [database],
  })
  async download(
    @Param('id') id: string,
    @CurrentUser() user: Caller,
    @Req() req: IncomingMessage,
    @Res() res: ServerResponse,
  ): Promise<void> {
    await serve(await this.media.forDownload(id, user), req, res);
  }

  @Get(':id/preview')
  @SignedUrlAccepted()
  @ApiQuery({
    name: 'token',
    required: false,
    type: String,
    description: 'A signed URL token (POST /media/{id}/signed-url), instead of a bearer token',
  })
  @ApiOperation({ summary: 'A WebP preview fitting inside 64, 256 or 512 pixels (default 256)' })
  @ApiQuery({ name: 'size', required: false, enum: ['64', '256', '512'] })
  @ApiDownload('preview')
  @ApiErrors({
    400: [['VALIDATION_FAILED', 'the id is not a UUID, or size is not 64, 256 or 512, or is given more than once']],
    401: [token],
    404: [
      ['NOT_FOUND', `${absent[1]}; or its processing failed; or it has no preview (archives), or none of that size`],
    ],
    409: [
      [
        'MEDIA_NOT_READY',
        'the media is still processing and has no preview of that size yet (Retry-After: 5); a video has its frame from the upload on',
      ],
    ],
    416: [unsatisfiable],
    429: [rate],
    500: [unreadable],
    503: [database],
  })
  async preview(
    @Param('id') id: string,
    @Query() query: Record<string, unknown>,
    @CurrentUser() user: Caller,
    @Req() req: IncomingMessage,
    @Res() res: ServerResponse,
  ): Promise<void> {
    await serve(await this.media.forPreview(id, user, previewSize(query)), req, res);
  }

  @Delete(':id')
  @UseInterceptors(HoldsShutdown)
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete the media, its previews and blobs; frees quota' })
  @ApiResponse({
    status: 204,
    description:
      'Deleted for everyone, with its previews: its keys are destroyed at once, its blobs removed after; its bytes no longer count against the quota',
  })
  @ApiErrors({
    400: [badId],
    401: [token],
    403: [
      ['FORBIDDEN', 'the caller may read the media (it was shared with them) but is not its owner, admin or moderator'],
    ],
    404: [absent],
    429: [rate],
    503: [database],
  })
  async remove(@Param('id') id: string, @CurrentUser() user: Caller): Promise<void> {
    await this.media.delete(id, user);
  }
}

/** The preview box asked for: `size` once, as one of PREVIEW_SIZES (`size[]=64`, `size=64&size=256` are not sizes). */
function previewSize(query: Record<string, unknown>): number {
  const keys = Object.keys(query).filter((key) => key === 'size' || key.startsWith('size['));
  const size = query.size;
  const box = size === undefined ? 256 : Number(size);
  if (
    keys.length > 1 ||
    (keys.length === 1 && typeof size !== 'string') ||
    !(PREVIEW_SIZES as readonly number[]).includes(box)
  ) {
    throw new MediaError('VALIDATION_FAILED', `size must be one of ${PREVIEW_SIZES.join(', ')}, given once`);
  }
  return box;
}

/** The upload's `expiresIn` (seconds), once, within bounds; absent: the media does not expire. */
function expiresInOf(query: Record<string, unknown>): number | undefined {
  const value = query.expiresIn;
  if (value === undefined) return undefined;
  const seconds = typeof value === 'string' && /^\d{1,9}$/.test(value) ? Number(value) : NaN;
  if (!(seconds >= MIN_EXPIRES_IN && seconds <= MAX_EXPIRES_IN)) {
    throw new MediaError(
      'VALIDATION_FAILED',
      `expiresIn must be a whole number of seconds from ${MIN_EXPIRES_IN} to ${MAX_EXPIRES_IN}, given once`,
    );
  }
  return seconds;
}

/** Answers a download (the file, or a preview) per its conditional and range headers. */
async function serve(file: DownloadFile, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const plan = planResponse(
    {
      method: req.method ?? 'GET',
      range: req.headers.range,
      ifNoneMatch: req.headers['if-none-match'],
      ifRange: req.headers['if-range'] as string | undefined, // one value: Node joins repeated ones
    },
    file,
  );
  for (const [name, value] of Object.entries(plan.headers)) res.setHeader(name, value);
  if (plan.status === 416) throw new MediaError('RANGE_NOT_SATISFIABLE');
  res.statusCode = plan.status;
  if (!plan.sendBody) return void res.end();
  await sendBody(await file.open(plan.range), res);
}
