import { applyDecorators, type INestApplication } from '@nestjs/common';
import {
  ApiHeader,
  ApiResponse,
  DocumentBuilder,
  type HeaderObject,
  type OpenAPIObject,
  type PathItemObject,
  type ReferenceObject,
  type ResponseObject,
  SwaggerModule,
} from '@nestjs/swagger';

/**
 * The OpenAPI document (GET /api/docs-json): the controllers' decorators, plus what one
 * place of the code does for every route and decorators cannot say per route.
 */
export function createOpenApiDocument(app: INestApplication): OpenAPIObject {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('media-service')
      .setDescription('Whispr media-service: upload, validate, encrypt, store and serve media. See CONTRACT.md.')
      .setVersion('1')
      .addServer('/', 'This service; paths are relative to where this document is served')
      .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, 'bearer')
      .addSecurityRequirements('bearer')
      .addTag('media', 'Upload, download, metadata, deletion, storage usage (/api/v1, bearer token)')
      .addTag('moderation', 'Hash-check (any user) and the blocklist (admins and moderators) (/api/v1, bearer token)')
      .addTag('operations', 'Health and metrics (public)')
      .build(),
  );
  document.info.license = { name: 'UNLICENSED' }; // package.json: proprietary, no public licence
  document.components = { ...document.components, headers: { ...document.components?.headers, ...SHARED_HEADERS } };
  for (const [path, item] of Object.entries(document.paths)) {
    for (const operation of operationsOf(item)) {
      // CONTRACT §1: only /api/v1/** needs a token; health and metrics are public.
      if (!path.startsWith('/api/v1/')) operation.security = [];
      for (const [status, response] of Object.entries(operation.responses)) addSharedHeaders(Number(status), response);
    }
  }
  describeHead(document.paths['/api/v1/media/{id}']);
  describeQuarantine(document);
  return document;
}

const SHARED_HEADERS: Record<string, HeaderObject> = {
  'X-Request-Id': { description: "The request id: the client's X-Request-Id when it is sane, else a generated UUID", schema: { type: 'string' } },
  'Retry-After': { description: 'Seconds to wait before trying again', schema: { type: 'integer' } },
};
const ref = (name: string): ReferenceObject => ({ $ref: `#/components/headers/${name}` });

function operationsOf(item: PathItemObject) {
  return [item.get, item.put, item.post, item.delete, item.options, item.head, item.patch, item.trace].filter((operation) => operation !== undefined);
}

/** Every answer carries X-Request-Id; the error filter adds Retry-After to 409, 429 and 503 errors; a 416 says the size. */
function addSharedHeaders(status: number, response: ResponseObject | ReferenceObject | undefined): void {
  if (!response || '$ref' in response) return;
  response.headers = { ...response.headers, 'X-Request-Id': ref('X-Request-Id') };
  const schema = response.content?.['application/json']?.schema;
  const isError = schema !== undefined && '$ref' in schema && schema.$ref === '#/components/schemas/ErrorDto';
  if (isError && [409, 429, 503].includes(status)) response.headers['Retry-After'] = ref('Retry-After');
  if (isError && status === 416) response.headers['Content-Range'] = { description: 'bytes */<size>', schema: { type: 'string' } };
}

/**
 * Express answers HEAD on every GET route; the download is the one that handles it on
 * purpose (the same headers and status, nothing read or decrypted), so it is described.
 */
function describeHead(item: PathItemObject | undefined): void {
  if (!item?.get) return;
  const responses = Object.entries(item.get.responses).map(([status, response]) => {
    if (!response || '$ref' in response) return [status, response];
    const { content: _body, ...headersOnly } = response;
    return [status, { ...headersOnly, description: `${response.description} (headers only)` }];
  });
  item.head = {
    ...item.get,
    operationId: `${item.get.operationId}_head`,
    summary: 'The headers and status a GET would answer, without the body',
    responses: Object.fromEntries(responses),
  };
}

/** MediaDto (dto.ts) as admins and moderators see a media a blocklist entry quarantined (media-view.ts). */
function describeQuarantine(document: OpenAPIObject): void {
  const media = document.components?.schemas?.MediaDto;
  if (!media || '$ref' in media) return;
  media.properties = {
    ...media.properties,
    quarantined: {
      type: 'boolean',
      enum: [true],
      description: 'Present (true) only on media quarantined by a blocklist entry, which only admins and moderators can see; its owner gets 404',
    },
  };
}

const text = (description: string): HeaderObject => ({ description, schema: { type: 'string' } });
const FILE_HEADERS: Record<string, HeaderObject> = {
  ETag: text('Strong ETag: the SHA-256 of the stored file, quoted'),
  'Accept-Ranges': text('bytes'),
  'Content-Length': { description: 'Bytes in this body', schema: { type: 'integer' } },
  'Content-Disposition': text('inline for raster images, video and audio, attachment otherwise; with an RFC 6266 filename*'),
  'Cache-Control': text('private, no-cache'),
  'X-Content-Type-Options': text('nosniff'),
  'Content-Security-Policy': text("default-src 'none'; sandbox"),
};
const FILE_BODY = { '*/*': { schema: { type: 'string', format: 'binary' } } };

/** The download's conditional and range headers and its successful answers (CONTRACT §2 "Downloads"). */
export const ApiDownload = () =>
  applyDecorators(
    ApiHeader({ name: 'Range', required: false, description: 'bytes=start-end, one range (several ranges answer 200 with the whole body)' }),
    ApiHeader({ name: 'If-None-Match', required: false, description: 'ETags (or *); when one is the current ETag the answer is 304 with no body' }),
    ApiHeader({ name: 'If-Range', required: false, description: 'An ETag: Range applies only while it is the current one, else the whole file (200)' }),
    ApiResponse({ status: 200, description: 'The whole file, as its stored Content-Type (text carries ; charset=)', content: FILE_BODY, headers: FILE_HEADERS }),
    ApiResponse({
      status: 206,
      description: 'The requested range',
      content: FILE_BODY,
      headers: { ...FILE_HEADERS, 'Content-Range': text('bytes <start>-<end>/<size>') },
    }),
    ApiResponse({ status: 304, description: 'If-None-Match matched the current ETag; no body', headers: { ETag: FILE_HEADERS.ETag } }),
  );
