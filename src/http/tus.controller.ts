import { HoldsShutdown } from '../lifecycle/in-flight.js';
import {
  Controller,
  Delete,
  Get,
  Head,
  Inject,
  type OnModuleInit,
  Options,
  Param,
  Patch,
  Post,
  Req,
  UseInterceptors,
  Res,
} from '@nestjs/common';
import { ApiBearerAuth, ApiExcludeEndpoint, ApiHeader, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Server } from '@tus/server';
import type { Request, Response } from 'express';
import { NodeRequest, sendNodeResponse } from 'srvx/node';
import type { Caller } from '../access/caller.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { MediaError } from '../errors.js';
import { toMediaView } from '../media/media-view.js';
import { MediaService } from '../media/media.service.js';
import { newUploadId, ResumableUploads } from '../media/resumable/resumable-uploads.js';
import { UploadService } from '../media/upload.service.js';
import { countUpload } from '../observability/upload-outcome.js';
import { Metrics } from '../observability/metrics.js';
import { largestLimit } from '../media/size-limits.js';
import { MEDIA_TYPES } from '../detection/media-types.js';
import { CurrentUser, Public } from './auth/decorators.js';
import { abortedOnDisconnect } from './disconnect.js';
import { MediaDto } from './dto.js';
import { MAX_EXPIRES_IN, MIN_EXPIRES_IN } from './media.controller.js';
import { ApiErrors, COMMON_ERRORS } from './openapi.js';

const BASE_PATH = 'api/v1/media';
export const TUS_PATH = `/${BASE_PATH}/uploads`;
const { token, rate, database } = COMMON_ERRORS;

/** A tus protocol error (@tus/server's ERRORS): its status and text. */
interface TusError {
  status_code: number;
  body: string;
}

const isTusError = (error: unknown): error is TusError =>
  typeof (error as TusError)?.status_code === 'number' && typeof (error as TusError)?.body === 'string';

/** A tus protocol status as the contract's error: the status stays (tus fixes it), the code says what it is. */
function fromTusError({ status_code: status, body }: TusError): MediaError {
  const message = body.trim();
  if (status === 404 || status === 410) return new MediaError('NOT_FOUND', 'No such upload', { status });
  if (status === 413) return new MediaError('FILE_TOO_LARGE', message);
  if (status >= 500) return new MediaError('INTERNAL_ERROR');
  return new MediaError('VALIDATION_FAILED', message, { status });
}

/**
 * Resumable uploads, tus 1.0 (core, creation, creation-with-upload, termination, expiration,
 * checksum sha256), under /api/v1/media/uploads: @tus/server speaks the protocol on
 * ResumableUploads' store, behind the same guards as every route (token, rate limit). An
 * upload is its creator's alone: anyone else gets 404. The completing PATCH runs the upload
 * pipeline and answers 204 with Media-Id and Media-Status. Errors, the protocol's included,
 * are answered by the one error filter: `{ statusCode, code, message, requestId }`.
 */
@ApiTags('resumable uploads (tus 1.0)')
@ApiBearerAuth()
@Controller(BASE_PATH)
@UseInterceptors(HoldsShutdown)
export class TusController implements OnModuleInit {
  private server!: Server;
  /** The error behind a tus error response, by request: answered by the error filter instead. */
  private readonly failures = new WeakMap<object, unknown>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly resumable: ResumableUploads,
    private readonly uploads: UploadService,
    @Inject(MediaService) private readonly media: MediaService,
    private readonly metrics: Metrics,
  ) {}

  onModuleInit(): void {
    const nodeRequest = (req: { runtime?: { node?: { req: unknown } } }) =>
      req.runtime!.node!.req as Request & { user: Caller; id?: string };
    this.server = new Server({
      path: TUS_PATH,
      datastore: this.resumable,
      relativeLocation: true,
      namingFunction: () => newUploadId(),
      maxSize: largestLimit(this.config.limits.maxBytes, MEDIA_TYPES)[1],
      onUploadCreate: async (req, upload) => {
        const node = nodeRequest(req);
        const metadata = upload.metadata ?? {};
        const creator = {
          ownerId: node.user.id,
          filename: metadata.filename ?? 'upload',
          expiresInSeconds: expiresInOf(metadata.expiresIn),
        };
        await this.resumable.admit(upload.id, creator, upload.size ?? 0, abortedOnDisconnect(node.res!));
        return { metadata: { filename: creator.filename } };
      },
      onUploadFinish: async (req, upload) => {
        const node = nodeRequest(req);
        const result = await this.resumable
          .complete(upload.id, typeof node.id === 'string' ? node.id : undefined, abortedOnDisconnect(node.res!))
          .catch((error: unknown) => {
            countUpload(this.metrics, { error });
            throw error;
          });
        countUpload(this.metrics, { outcome: result.outcome, bytes: result.media.originalSize });
        return { status_code: 204, headers: { 'Media-Id': result.media.id, 'Media-Status': result.media.status } };
      },
      onResponseError: (req, error) => {
        this.failures.set(nodeRequest(req), error);
        return undefined;
      },
    });
  }

  // tus discovery (Tus-Version, Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm): described in docs/api.md, not an API operation.
  @Options(['uploads', 'uploads/:uploadId'])
  @Public()
  @ApiExcludeEndpoint()
  discover(@Req() req: Request, @Res() res: Response): Promise<void> {
    return this.tus(req, res);
  }

  @Post('uploads')
  @ApiOperation({ summary: 'Create a resumable upload (tus creation; creation-with-upload when a body is sent)' })
  @ApiHeader({ name: 'Tus-Resumable', required: true, description: '1.0.0' })
  @ApiHeader({
    name: 'Upload-Length',
    required: true,
    description: 'The file size in bytes (deferred length is refused)',
  })
  @ApiHeader({
    name: 'Upload-Metadata',
    required: false,
    description: 'tus metadata: keys `filename` and `expiresIn` (seconds, as in multipart)',
  })
  @ApiResponse({
    status: 201,
    description: 'Created: Location is the upload URL, Upload-Expires when it expires unless resumed',
  })
  @ApiErrors({
    400: [
      [
        'VALIDATION_FAILED',
        'Upload-Length missing or deferred, bad Upload-Metadata or expiresIn, an empty file, Tus-Resumable missing (412)',
      ],
    ],
    401: [token],
    413: [
      [
        'FILE_TOO_LARGE',
        'Upload-Length over the largest limit of any type (checked against the type named by the first bytes at the first PATCH)',
      ],
    ],
    429: [rate, ['DAILY_UPLOAD_LIMIT', 'the daily slot is taken at creation']],
    503: [database],
    507: [['QUOTA_EXCEEDED', 'Upload-Length does not fit the quota: the reservation covers it from creation']],
  })
  create(@Req() req: Request, @Res() res: Response, @CurrentUser() user: Caller): Promise<void> {
    return this.tus(req, res, user);
  }

  @Head('uploads/:uploadId')
  @ApiOperation({ summary: 'The durable offset of an upload (Upload-Offset, Upload-Length)' })
  @ApiResponse({ status: 200, description: 'Upload-Offset: the bytes the server holds, durably; Upload-Length' })
  @ApiErrors({
    401: [token],
    404: [['NOT_FOUND', "no such upload, expired, complete, or not the caller's"]],
    429: [rate],
    503: [database],
  })
  offset(
    @Param('uploadId') id: string,
    @Req() req: Request,
    @Res() res: Response,
    @CurrentUser() user: Caller,
  ): Promise<void> {
    return this.tus(req, res, user, id);
  }

  @Patch('uploads/:uploadId')
  @ApiOperation({
    summary:
      'Append bytes at Upload-Offset (application/offset+octet-stream); the completing PATCH answers 204 with Media-Id and Media-Status',
  })
  @ApiHeader({ name: 'Upload-Offset', required: true })
  @ApiHeader({
    name: 'Upload-Checksum',
    required: false,
    description: 'sha256 <base64> of this PATCH body: 460 and nothing kept when it does not match',
  })
  @ApiResponse({
    status: 204,
    description: 'Upload-Offset: the new offset; on the completing PATCH, Media-Id and Media-Status',
  })
  @ApiErrors({
    400: [['VALIDATION_FAILED', 'bad tus headers (Upload-Offset, Content-Type), Upload-Checksum not sha256']],
    409: [
      ['VALIDATION_FAILED', 'Upload-Offset is not the offset the server holds (HEAD tells it): nothing is written'],
    ],
    460: [['VALIDATION_FAILED', 'Upload-Checksum does not match the bytes of this PATCH: nothing of them is kept']],
    401: [token],
    404: [['NOT_FOUND', "no such upload, expired (410), or not the caller's"]],
    413: [['FILE_TOO_LARGE', 'over the limit of the type the first bytes name, or more bytes than Upload-Length']],
    415: [['UNSUPPORTED_MEDIA_TYPE', 'the first bytes are none of the supported formats: the upload is removed']],
    422: [
      ['CORRUPT_FILE', 'on the completing PATCH, as for a multipart upload (also CONTENT_REJECTED, MALWARE_DETECTED)'],
    ],
    429: [
      rate,
      [
        'TOO_MANY_CONCURRENT_UPLOADS',
        'UPLOAD_CONCURRENCY_PER_USER PATCHes and multipart uploads of this user in flight',
      ],
    ],
    503: [database],
    507: [['QUOTA_EXCEEDED', 'on the completing PATCH: the exact check of the commit']],
  })
  async append(
    @Param('uploadId') id: string,
    @Req() req: Request,
    @Res() res: Response,
    @CurrentUser() user: Caller,
  ): Promise<void> {
    const release = await this.uploads.takeSlot(user.id);
    try {
      this.resumable.expectChecksum(id, req.headers['upload-checksum'] as string | undefined);
      await this.tus(req, res, user, id);
    } finally {
      release();
    }
  }

  @Delete('uploads/:uploadId')
  @ApiOperation({ summary: 'Abandon an upload (tus termination): its file and reservation go' })
  @ApiResponse({ status: 204, description: 'Removed' })
  @ApiErrors({
    401: [token],
    404: [['NOT_FOUND', "no such upload, or not the caller's"]],
    429: [rate],
    503: [database],
  })
  terminate(
    @Param('uploadId') id: string,
    @Req() req: Request,
    @Res() res: Response,
    @CurrentUser() user: Caller,
  ): Promise<void> {
    return this.tus(req, res, user, id);
  }

  @Get('uploads/:uploadId')
  @ApiOperation({ summary: 'The Media a completed resumable upload became' })
  @ApiResponse({ status: 200, type: MediaDto, description: 'The Media, once the completing PATCH has stored it' })
  @ApiErrors({
    401: [token],
    404: [['NOT_FOUND', "no such upload, not complete, expired, or not the caller's"]],
    429: [rate],
    503: [database],
  })
  async result(@Param('uploadId') id: string, @CurrentUser() user: Caller): Promise<MediaDto> {
    if ((await this.resumable.ownerOf(id)) !== user.id) throw new MediaError('NOT_FOUND', 'No such upload');
    const media = await this.resumable.mediaOf(id);
    if (!media) throw new MediaError('NOT_FOUND', 'The upload is not complete');
    return toMediaView(await this.media.visible(media.id, user));
  }

  /** Hands the request to the tus server; its failures go to the error filter (thrown), its answers to the client. */
  private async tus(req: Request, res: Response, user?: Caller, id?: string): Promise<void> {
    if (id !== undefined && (await this.resumable.ownerOf(id)) !== user?.id)
      throw new MediaError('NOT_FOUND', 'No such upload');
    const response = await this.server.handleWeb(new NodeRequest({ req, res }));
    const failure = this.failures.get(req);
    if (failure !== undefined) {
      await response.body?.cancel();
      throw isTusError(failure) ? fromTusError(failure) : failure;
    }
    // CORS is the edge's (http/cors.ts, already on `res`): @tus/server's own headers would replace it.
    for (const name of [...response.headers.keys()])
      if (name.startsWith('access-control-')) response.headers.delete(name);
    // The checksum extension is ours (ResumableUploads), so is its discovery header.
    if (req.method === 'OPTIONS') response.headers.set('Tus-Checksum-Algorithm', 'sha256');
    await sendNodeResponse(res, response);
  }
}

/** `expiresIn` of the tus metadata: whole seconds within the multipart upload's bounds, or absent. */
function expiresInOf(value: string | null | undefined): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const seconds = Number(value);
  if (!Number.isInteger(seconds) || seconds < MIN_EXPIRES_IN || seconds > MAX_EXPIRES_IN) {
    throw new MediaError(
      'VALIDATION_FAILED',
      `expiresIn must be a whole number of seconds from ${MIN_EXPIRES_IN} to ${MAX_EXPIRES_IN}`,
    );
  }
  return seconds;
}
