import { Controller, Delete, Get, HttpCode, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiExtraModels, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { IncomingMessage } from 'node:http';
import type { Request, Response } from 'express';
import { MediaError } from '../errors.js';
import { Metrics } from '../observability/metrics.js';
import type { Caller } from '../media/caller.js';
import { type DownloadFile, MediaService } from '../media/media.service.js';
import { PREVIEW_SIZES } from '../processing/processor.js';
import { UploadService } from '../media/upload.service.js';
import { toMediaView } from '../media/media-view.js';
import { CurrentUser } from './auth/decorators.js';
import { planResponse } from './download.js';
import { abortedOnDisconnect } from './disconnect.js';
import { continueBody } from './early-answers.js';
import { MULTIPART_OVERHEAD, receiveFilePart } from './multipart.js';
import { ErrorDto, MediaDto, StorageDto, TypeUsageDto, UploadDto } from './dto.js';
import { ApiDownload } from './openapi.js';
import { sendBody } from './send-body.js';

const errors = (...statuses: number[]) => statuses.map((status) => ApiResponse({ status, type: ErrorDto }));
const apply = (...decorators: MethodDecorator[]): MethodDecorator => (target, key, descriptor) => {
  for (const decorator of decorators) decorator(target, key, descriptor);
};

const BASE_PATH = 'api/v1/media';
const UPLOAD_PATH = 'upload';

/** An upload decides whether to take the body before reading it (`Expect: 100-continue`). */
export function isUploadRequest(req: IncomingMessage): boolean {
  return req.method === 'POST' && req.url?.split('?')[0] === `/${BASE_PATH}/${UPLOAD_PATH}`;
}

@ApiTags('media')
@ApiBearerAuth()
@ApiExtraModels(TypeUsageDto)
@Controller(BASE_PATH)
export class MediaController {
  constructor(
    private readonly uploads: UploadService,
    @Inject(MediaService) private readonly media: MediaService,
    private readonly metrics: Metrics,
  ) {}

  @Post(UPLOAD_PATH)
  @ApiOperation({ summary: 'Upload one file (multipart/form-data, part "file")' })
  @ApiConsumes('multipart/form-data')
  @ApiBody({ type: UploadDto })
  @ApiResponse({ status: 201, type: MediaDto, description: 'Stored and ready' })
  @ApiResponse({ status: 202, type: MediaDto, description: 'Stored and proven; its stored version is still being produced (status: processing)' })
  @ApiResponse({ status: 200, type: MediaDto, description: 'The caller already has identical content; nothing new stored' })
  @apply(...errors(400, 401, 413, 415, 422, 429, 503, 507))
  async upload(@Req() req: Request, @Res() res: Response, @CurrentUser() user: Caller): Promise<void> {
    let outcome = 'error';
    try {
      const result = await this.uploads.upload({
        ownerId: user.id,
        requestId: typeof req.id === 'string' ? req.id : undefined,
        minBytes: Math.max(0, Number(req.headers['content-length'] ?? 0) - MULTIPART_OVERHEAD),
        open: () => {
          continueBody(req, res);
          return receiveFilePart(req);
        },
        signal: abortedOnDisconnect(res),
      });
      outcome = result.outcome;
      if (outcome === 'created') this.metrics.uploadBytes.inc(result.media.originalSize);
      // 202: stored and proven, its stored version still being produced by a worker.
      res.status(outcome === 'duplicate' ? 200 : result.media.status === 'processing' ? 202 : 201).json(result.media);
    } catch (error) {
      if (error instanceof MediaError) outcome = error.code;
      throw error;
    } finally {
      this.metrics.uploads.inc({ outcome });
    }
  }

  @Get('storage')
  @ApiOperation({ summary: "The caller's storage usage and limits" })
  @ApiResponse({ status: 200, type: StorageDto })
  @apply(...errors(401, 429, 503))
  storage(@CurrentUser() user: Caller): Promise<StorageDto> {
    return this.media.storage(user);
  }

  @Get(':id/metadata')
  @ApiOperation({ summary: 'The Media object' })
  @ApiResponse({ status: 200, type: MediaDto })
  @apply(...errors(400, 401, 404, 429, 503))
  async metadata(@Param('id') id: string, @CurrentUser() user: Caller): Promise<MediaDto> {
    return toMediaView(await this.media.visible(id, user));
  }

  @Get(':id')
  @ApiOperation({ summary: 'The stored file, decrypted and streamed; one byte range with Range' })
  @ApiDownload()
  @apply(...errors(400, 401, 404, 409, 416, 429, 500, 503))
  async download(@Param('id') id: string, @CurrentUser() user: Caller, @Req() req: Request, @Res() res: Response): Promise<void> {
    await serve(await this.media.forDownload(id, user), req, res);
  }

  @Get(':id/preview')
  @ApiOperation({ summary: 'A WebP preview fitting inside 64, 256 or 512 pixels (default 256)' })
  @ApiQuery({ name: 'size', required: false, enum: ['64', '256', '512'] })
  @ApiDownload()
  @apply(...errors(400, 401, 404, 409, 416, 429, 500, 503))
  async preview(@Param('id') id: string, @Query() query: Record<string, unknown>, @CurrentUser() user: Caller, @Req() req: Request, @Res() res: Response): Promise<void> {
    await serve(await this.media.forPreview(id, user, previewSize(query)), req, res);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete the media, its previews and blobs; frees quota' })
  @ApiResponse({ status: 204 })
  @apply(...errors(400, 401, 404, 429, 503))
  async remove(@Param('id') id: string, @CurrentUser() user: Caller): Promise<void> {
    await this.media.delete(id, user);
  }
}

/** The preview box asked for: `size` once, as one of PREVIEW_SIZES (`size[]=64`, `size=64&size=256` are not sizes). */
function previewSize(query: Record<string, unknown>): number {
  const keys = Object.keys(query).filter((key) => key === 'size' || key.startsWith('size['));
  const size = query.size;
  const box = size === undefined ? 256 : Number(size);
  if (keys.length > 1 || (keys.length === 1 && typeof size !== 'string') || !(PREVIEW_SIZES as readonly number[]).includes(box)) {
    throw new MediaError('VALIDATION_FAILED', `size must be one of ${PREVIEW_SIZES.join(', ')}, given once`);
  }
  return box;
}

/** Answers a download (the file, or a preview) per its conditional and range headers. */
async function serve(file: DownloadFile, req: Request, res: Response): Promise<void> {
  const plan = planResponse({ method: req.method, range: req.get('Range'), ifNoneMatch: req.get('If-None-Match'), ifRange: req.get('If-Range') }, file);
  res.set(plan.headers);
  if (plan.status === 416) throw new MediaError('RANGE_NOT_SATISFIABLE');
  res.status(plan.status);
  if (!plan.sendBody) return void res.end();
  await sendBody(await file.open(plan.range), res);
}
