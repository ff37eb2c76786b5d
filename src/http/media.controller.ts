import { Controller, Delete, Get, HttpCode, Inject, Param, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiExtraModels, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { MediaError } from '../errors.js';
import { Metrics } from '../observability/metrics.js';
import { MediaService, type Caller } from '../media/media.service.js';
import { UploadService } from '../media/upload.service.js';
import { toMediaView } from '../media/media-view.js';
import { CurrentUser } from './auth/decorators.js';
import { matchesIfNoneMatch, setDownloadHeaders } from './download.js';
import { ErrorDto, MediaDto, StorageDto, TypeUsageDto, UploadDto } from './dto.js';
import { ApiDownload } from './openapi.js';
import { parseRange } from './range.js';
import { sendBody } from './send-body.js';

const errors = (...statuses: number[]) => statuses.map((status) => ApiResponse({ status, type: ErrorDto }));
const apply = (...decorators: MethodDecorator[]): MethodDecorator => (target, key, descriptor) => {
  for (const decorator of decorators) decorator(target, key, descriptor);
};

@ApiTags('media')
@ApiBearerAuth()
@ApiExtraModels(TypeUsageDto)
@Controller('api/v1/media')
export class MediaController {
  constructor(
    private readonly uploads: UploadService,
    @Inject(MediaService) private readonly media: MediaService,
    private readonly metrics: Metrics,
  ) {}

  @Post('upload')
  @ApiOperation({ summary: 'Upload one file (multipart/form-data, part "file")' })
  @ApiConsumes('multipart/form-data')
  @ApiBody({ type: UploadDto })
  @ApiResponse({ status: 201, type: MediaDto, description: 'Stored and ready' })
  @ApiResponse({ status: 200, type: MediaDto, description: 'The caller already has identical content; nothing new stored' })
  @apply(...errors(400, 401, 413, 415, 422, 429, 503, 507))
  async upload(@Req() req: Request, @Res() res: Response, @CurrentUser() user: Caller): Promise<void> {
    let outcome = 'error';
    try {
      const result = await this.uploads.upload(req, user.id);
      outcome = result.status === 201 ? 'created' : 'duplicate';
      if (result.status === 201) this.metrics.uploadBytes.inc(result.media.originalSize);
      res.status(result.status).json(result.media);
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
    const media = await this.media.visible(id, user);
    this.media.assertReady(media);
    const size = Number(media.size);
    const etag = `"${media.sha256}"`;
    if (matchesIfNoneMatch(req.headers['if-none-match'], etag)) {
      res.status(304).setHeader('ETag', etag);
      res.end();
      return;
    }
    const ifRange = req.headers['if-range'];
    const request = ifRange && ifRange !== etag ? ({ kind: 'none' } as const) : parseRange(req.headers.range, size);
    if (request.kind === 'unsatisfiable') {
      res.setHeader('Content-Range', `bytes */${size}`);
      throw new MediaError('RANGE_NOT_SATISFIABLE');
    }
    const range = request.kind === 'single' ? request.range : undefined;
    const charset = (media.metadata as { charset?: string } | null)?.charset;
    setDownloadHeaders(res, { mimeType: charset ? `${media.mimeType}; charset=${charset}` : media.mimeType, name: media.originalName, etag });
    if (range) {
      res.status(206).setHeader('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
      res.setHeader('Content-Length', String(range.end - range.start + 1));
    } else {
      res.status(200).setHeader('Content-Length', String(size));
    }
    if (req.method === 'HEAD') {
      res.end(); // headers only: nothing is read or decrypted
      return;
    }
    await sendBody(await this.media.open(media, range), res);
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
