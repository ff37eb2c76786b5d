import { applyDecorators, type INestApplication } from '@nestjs/common';
import {
  ApiExtraModels,
  ApiHeader,
  ApiResponse,
  DocumentBuilder,
  getSchemaPath,
  type HeaderObject,
  type OpenAPIObject,
  type PathItemObject,
  type ReferenceObject,
  type ResponseObject,
  type SchemaObject,
  SwaggerModule,
} from '@nestjs/swagger';
import { ERRORS, type ErrorCode } from '../errors.js';
import { ErrorDto } from './dto.js';

/**
 * The OpenAPI document (GET /api/docs-json): the controllers' decorators, plus what one
 * place of the code does for every route and decorators cannot say per route.
 */
export function createOpenApiDocument(app: INestApplication): OpenAPIObject {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('media-service')
      .setDescription(
        'Whispr media-service: upload, validate, encrypt, store and serve media. The reference is docs/api.md in the repository ' +
          '(behaviour per media type: docs/behaviour.md). Every error answer is the ErrorDto body; each error response lists the codes it can carry. ' +
          'Any request may also be refused before routing: 400 VALIDATION_FAILED for malformed HTTP framing, 431 for oversized headers.',
      )
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
      // Only /api/v1/** needs a token; health and metrics are public.
      if (!path.startsWith('/api/v1/')) operation.security = [];
      operation.responses = { ...operation.responses, ...answersOfEveryRoute(operation.responses) };
      for (const [status, response] of Object.entries(operation.responses)) addSharedHeaders(Number(status), response);
    }
  }
  describeHead(document.paths['/api/v1/media/{id}']);
  describeHead(document.paths['/api/v1/media/{id}/preview']);
  describeQuarantine(document);
  return document;
}

const SHARED_HEADERS: Record<string, HeaderObject> = {
  'X-Request-Id': {
    description: "The request id: the client's X-Request-Id when it is sane, else a generated UUID",
    schema: { type: 'string' },
  },
  'Retry-After': { description: 'Seconds to wait before trying again', schema: { type: 'integer' } },
};
const ref = (name: string): ReferenceObject => ({ $ref: `#/components/headers/${name}` });

function operationsOf(item: PathItemObject) {
  return [item.get, item.put, item.post, item.delete, item.options, item.head, item.patch, item.trace].filter(
    (operation) => operation !== undefined,
  );
}

/** One way an error answer comes about: its code, and when (one sentence, for people). */
export type ErrorCase = readonly [code: ErrorCode, when: string];

/**
 * The error answers of a route, by status. Each response says when it happens, and its
 * schema is ErrorDto with `code` narrowed to the codes that status carries here (with an
 * example of each), so a client knows e.g. which three 422s an upload can meet.
 */
export const ApiErrors = (answers: Record<number, readonly ErrorCase[]>) =>
  applyDecorators(
    ApiExtraModels(ErrorDto),
    ...Object.entries(answers).map(([status, cases]) =>
      ApiResponse({ status: Number(status), ...errorResponse(Number(status), cases) }),
    ),
  );

function errorResponse(status: number, cases: readonly ErrorCase[]): ResponseObject {
  const codes = cases.map(([code]) => code);
  const schema: SchemaObject = {
    allOf: [
      { $ref: getSchemaPath(ErrorDto) },
      {
        type: 'object',
        properties: { statusCode: { type: 'integer', enum: [status] }, code: { type: 'string', enum: codes } },
      },
    ],
  };
  const examples = Object.fromEntries(
    cases.map(([code, when]) => [
      code,
      {
        summary: when,
        value: { statusCode: status, code, message: ERRORS[code].message, requestId: EXAMPLE_REQUEST_ID },
      },
    ]),
  );
  const description = cases.map(([code, when]) => `${code}: ${when}`).join('\n\n');
  return { description, content: { 'application/json': { schema, examples } } };
}

const EXAMPLE_REQUEST_ID = '6f1c2b9e-3d4a-4e5f-8a7b-9c0d1e2f3a4b';

/** True for a JSON error answer: ErrorDto, or ErrorDto narrowed by ApiErrors. */
function isErrorSchema(schema: SchemaObject | ReferenceObject | undefined): boolean {
  const errorDto = (candidate: SchemaObject | ReferenceObject | undefined) =>
    candidate !== undefined && '$ref' in candidate && candidate.$ref === getSchemaPath(ErrorDto);
  return errorDto(schema) || (schema !== undefined && !('$ref' in schema) && errorDto(schema.allOf?.[0]));
}

/**
 * What any route may answer, whatever its handler does: oversized request headers are
 * refused by the HTTP parser before routing (client-errors.ts), and anything unexpected
 * is a bare 500 (error.filter.ts). Added where a route does not already say more.
 */
function answersOfEveryRoute(
  declared: Record<string, ResponseObject | ReferenceObject | undefined>,
): Record<string, ResponseObject> {
  const every: Record<string, ResponseObject> = {
    '431': errorResponse(431, [
      [
        'VALIDATION_FAILED',
        'the request headers are larger than 16 KiB (refused before routing, with Connection: close)',
      ],
    ]),
    '500': errorResponse(500, [
      ['INTERNAL_ERROR', 'anything unexpected; logged in full with the request id, answered without details'],
    ]),
  };
  return Object.fromEntries(Object.entries(every).filter(([status]) => declared[status] === undefined));
}

/**
 * Every answer carries X-Request-Id; the error filter adds Retry-After to 409, 429 and 503
 * errors and WWW-Authenticate to 401; a 416 says the size.
 */
function addSharedHeaders(status: number, response: ResponseObject | ReferenceObject | undefined): void {
  if (!response || '$ref' in response) return;
  response.headers = { ...response.headers, 'X-Request-Id': ref('X-Request-Id') };
  const isError = isErrorSchema(response.content?.['application/json']?.schema);
  if (isError && [409, 429, 503].includes(status)) response.headers['Retry-After'] = ref('Retry-After');
  if (isError && status === 401)
    response.headers['WWW-Authenticate'] = text(
      'Bearer, or Bearer error="invalid_token" when a token was given (RFC 6750)',
    );
  if (isError && status === 416)
    response.headers['Content-Range'] = { description: 'bytes */<size>', schema: { type: 'string' } };
}

/**
 * Express answers HEAD on every GET route; the download and the preview are the ones that
 * handle it on purpose (the same headers and status, nothing read or decrypted), so they
 * are described.
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
      description:
        'Present (true) only on media quarantined by a blocklist entry, which only admins and moderators can see; its owner gets 404',
    },
  };
}

const text = (description: string): HeaderObject => ({ description, schema: { type: 'string' } });
const BINARY = { schema: { type: 'string', format: 'binary' } };

/** What differs between serving the stored file and serving one of its previews (MediaService.forDownload, forPreview). */
const SERVED = {
  file: {
    body: { '*/*': BINARY },
    whole: 'The whole file, as its stored Content-Type (text carries ; charset=)',
    etag: 'Strong ETag: the SHA-256 of the stored file, quoted',
    disposition: 'inline for raster images, video and audio, attachment otherwise; with an RFC 6266 filename*',
    cacheControl: 'private, no-cache',
  },
  preview: {
    body: { 'image/webp': BINARY },
    whole: 'The WebP preview, fitting inside the size asked for (never upscaled)',
    etag: 'Strong ETag: "<sha256 of the stored file>-<size>"',
    disposition: 'inline, named <original name>-<size>.webp (RFC 6266 filename*)',
    cacheControl: 'private, max-age=86400',
  },
} as const;

/** The conditional and range headers of a download (or a preview) and its successful answers (docs/api.md, "Downloads"). */
export const ApiDownload = (what: keyof typeof SERVED = 'file') => {
  const served = SERVED[what];
  const headers: Record<string, HeaderObject> = {
    ETag: text(served.etag),
    'Accept-Ranges': text('bytes'),
    'Content-Length': { description: 'Bytes in this body', schema: { type: 'integer' } },
    'Content-Disposition': text(served.disposition),
    'Cache-Control': text(served.cacheControl),
    'X-Content-Type-Options': text('nosniff'),
    'Content-Security-Policy': text("default-src 'none'; sandbox"),
  };
  return applyDecorators(
    ApiHeader({
      name: 'Range',
      required: false,
      description: 'bytes=start-end, one range (several ranges answer 200 with the whole body)',
    }),
    ApiHeader({
      name: 'If-None-Match',
      required: false,
      description: 'ETags (or *); when one is the current ETag the answer is 304 with no body',
    }),
    ApiHeader({
      name: 'If-Range',
      required: false,
      description: 'An ETag: Range applies only while it is the current one, else the whole body (200)',
    }),
    ApiResponse({ status: 200, description: served.whole, content: served.body, headers }),
    ApiResponse({
      status: 206,
      description: 'The requested range',
      content: served.body,
      headers: { ...headers, 'Content-Range': text('bytes <start>-<end>/<size>') },
    }),
    ApiResponse({
      status: 304,
      description: 'If-None-Match matched the current ETag; no body',
      headers: { ETag: headers.ETag, 'Cache-Control': headers['Cache-Control'] },
    }),
  );
};

/** Error cases several routes share (the guards, the id check, the database). */
export const COMMON_ERRORS = {
  badId: ['VALIDATION_FAILED', 'the id is not a UUID'],
  token: ['UNAUTHORIZED', 'the bearer token is missing, invalid, expired, or valid for more than 7 days'],
  rate: ['RATE_LIMITED', 'more than RATE_LIMIT_PER_MINUTE requests from this user in the last minute (Retry-After)'],
  database: ['DEPENDENCY_UNAVAILABLE', 'the database is unavailable (Retry-After: 5)'],
  absent: ['NOT_FOUND', "no such media, or not the caller's (exactly like absent), or quarantined for its owner"],
} as const satisfies Record<string, ErrorCase>;
