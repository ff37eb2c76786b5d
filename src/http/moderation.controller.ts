import { Body, Controller, Delete, HttpCode, Param, Post, UseInterceptors } from '@nestjs/common';
import { HoldsShutdown } from '../lifecycle/in-flight.js';
import {
  ApiBearerAuth,
  ApiBody,
  ApiExtraModels,
  ApiOperation,
  ApiProperty,
  ApiResponse,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import { MediaError } from '../errors.js';
import { type Caller, isPrivileged } from '../access/caller.js';
import { type BlockedHash, type BlocklistEntry, BlocklistService, parseHash } from '../moderation/blocklist.service.js';
import { HashCheckService } from '../moderation/hash-check.service.js';
import { CurrentUser } from './auth/decorators.js';
import { fieldsOf } from './json-body.js';
import { ApiErrors, COMMON_ERRORS, type ErrorCase } from './openapi.js';
import { UUID } from '../common/uuid.js';

const ALGORITHMS = ['sha256', 'md5', 'phash'];
const MAX_REASON = 500;

class HashDto {
  @ApiProperty({ enum: ALGORITHMS }) algorithm!: string;
  @ApiProperty({
    description: 'Hex: 64 digits (sha256), 32 (md5) or 16 (phash, 64-bit DCT); any case',
    example: 'a3f1c2d4e5b60718',
  })
  hash!: string;
}

class BlockHashDto extends HashDto {
  @ApiProperty({ minLength: 1, maxLength: MAX_REASON }) reason!: string;
}

class BlockMediaDto {
  @ApiProperty({
    format: 'uuid',
    description: 'Block every hash of this media (uploaded and stored sha256 and md5, pHashes); it is quarantined',
  })
  mediaId!: string;
  @ApiProperty({ minLength: 1, maxLength: MAX_REASON }) reason!: string;
}

class BlockedHashDto {
  @ApiProperty({ enum: ALGORITHMS }) algorithm!: string;
  @ApiProperty({ description: 'Lowercase hex' }) hash!: string;
}

class BlocklistEntryDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() reason!: string;
  @ApiProperty({ enum: ['admin', 'moderation-service'] }) source!: string;
  @ApiProperty({ type: 'string', format: 'uuid', nullable: true, description: 'The media the hashes were taken from' })
  mediaId!: string | null;
  @ApiProperty({ type: [BlockedHashDto] }) hashes!: BlockedHashDto[];
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({
    type: 'integer',
    description:
      "Media (any user's) that this request quarantined: hidden from their owners until the entry is deleted",
  })
  quarantined!: number;
}

class HashCheckResultDto {
  @ApiProperty({ description: 'On the blocklist (a pHash: within the configured Hamming distance)' }) blocked!: boolean;
  @ApiProperty({
    type: 'string',
    format: 'uuid',
    nullable: true,
    description: "The caller's own media with this content; never another user's",
  })
  duplicateOf!: string | null;
}

const { token, rate, database } = COMMON_ERRORS;
const badBody = (fields: string, values: string): ErrorCase => [
  'VALIDATION_FAILED',
  `the body does not parse, is not a JSON object of exactly ${fields}, or ${values}`,
];
const badHash = 'algorithm is not sha256, md5 or phash, or hash is not 64, 32 or 16 hex digits for it';
const bigBody: ErrorCase = ['FILE_TOO_LARGE', 'the JSON body is larger than 64 KiB'];
const notPrivileged: ErrorCase = ['FORBIDDEN', 'the caller is neither admin nor moderator'];

/** The blocklist administration (admins and moderators) and hash-check (any user). */
@ApiTags('moderation')
@ApiBearerAuth()
@ApiExtraModels(BlockHashDto, BlockMediaDto)
@Controller('api/v1')
@UseInterceptors(HoldsShutdown)
export class ModerationController {
  constructor(
    private readonly blocklist: BlocklistService,
    private readonly hashCheck: HashCheckService,
  ) {}

  @Post('media/hash-check')
  @HttpCode(200)
  @ApiOperation({ summary: "Whether a hash is blocked, and the caller's own media with it if any" })
  @ApiBody({ type: HashDto })
  @ApiResponse({
    status: 200,
    type: HashCheckResultDto,
    description: "Whether it is blocked, and the caller's own media with this content",
  })
  @ApiErrors({
    400: [badBody('{ algorithm, hash }', badHash)],
    401: [token],
    413: [bigBody],
    429: [rate],
    503: [
      [
        'DEPENDENCY_UNAVAILABLE',
        `${database[1]}, the blocklist is not loaded yet, or (in closed mode) moderation-service does not answer`,
      ],
    ],
  })
  check(@Body() body: unknown, @CurrentUser() user: Caller): Promise<HashCheckResultDto> {
    const fields = fieldsOf(body, ['algorithm', 'hash']);
    return this.hashCheck.check(user, hashOf(fields));
  }

  @Post('admin/blocklist')
  @ApiOperation({
    summary: 'Block a hash, or every hash of a media (which is quarantined with every copy); admin or moderator',
  })
  @ApiBody({ schema: { oneOf: [{ $ref: getSchemaPath(BlockHashDto) }, { $ref: getSchemaPath(BlockMediaDto) }] } })
  @ApiResponse({
    status: 201,
    type: BlocklistEntryDto,
    description: 'The entry; quarantined counts the media it hid from their owners',
  })
  @ApiErrors({
    400: [
      badBody(
        '{ algorithm, hash, reason } or { mediaId, reason }',
        `${badHash}, reason is not 1 to ${MAX_REASON} characters, or mediaId is not a UUID`,
      ),
    ],
    401: [token],
    403: [notPrivileged],
    404: [['NOT_FOUND', 'mediaId names no media']],
    413: [bigBody],
    429: [rate],
    503: [database],
  })
  async block(@Body() body: unknown, @CurrentUser() user: Caller): Promise<BlocklistEntryDto> {
    requirePrivileged(user);
    const isMedia = typeof body === 'object' && body !== null && 'mediaId' in body;
    const fields = fieldsOf(body, isMedia ? ['mediaId', 'reason'] : ['algorithm', 'hash', 'reason']);
    const reason = reasonOf(fields.reason);
    const { entry, quarantined } = isMedia
      ? await this.blocklist.addMedia({ mediaId: mediaIdOf(fields.mediaId), reason, createdBy: user.id })
      : await this.blocklist.add({ hashes: [hashOf(fields)], reason, source: 'admin', createdBy: user.id });
    return toEntryDto(entry, quarantined);
  }

  @Delete('admin/blocklist/:id')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Unblock: delete the entry; the media it quarantined are visible again; admin or moderator',
  })
  @ApiResponse({ status: 204, description: 'Deleted; the media it quarantined are visible to their owners again' })
  @ApiErrors({
    400: [['VALIDATION_FAILED', 'the entry id is not a UUID']],
    401: [token],
    403: [notPrivileged],
    404: [['NOT_FOUND', 'no such blocklist entry']],
    429: [rate],
    503: [database],
  })
  async unblock(@Param('id') id: string, @CurrentUser() user: Caller): Promise<void> {
    requirePrivileged(user);
    if (!UUID.test(id)) throw new MediaError('VALIDATION_FAILED', 'The entry id must be a UUID');
    if (!(await this.blocklist.remove(id))) throw new MediaError('NOT_FOUND', 'No such blocklist entry');
  }
}

function requirePrivileged(user: Caller): void {
  if (!isPrivileged(user)) throw new MediaError('FORBIDDEN', 'Only admins and moderators manage the blocklist');
}

function hashOf(fields: Record<string, unknown>): BlockedHash {
  if (typeof fields.algorithm !== 'string' || !ALGORITHMS.includes(fields.algorithm)) {
    throw new MediaError('VALIDATION_FAILED', `algorithm must be one of ${ALGORITHMS.join(', ')}`);
  }
  const hash = parseHash(fields.algorithm, fields.hash);
  if (!hash)
    throw new MediaError(
      'VALIDATION_FAILED',
      `hash must be ${{ sha256: 64, md5: 32, phash: 16 }[fields.algorithm]} hex digits for ${fields.algorithm}`,
    );
  return hash;
}

function reasonOf(value: unknown): string {
  const reason = typeof value === 'string' ? value.trim() : '';
  if (reason.length < 1 || reason.length > MAX_REASON)
    throw new MediaError('VALIDATION_FAILED', `reason must be 1 to ${MAX_REASON} characters`);
  return reason;
}

function mediaIdOf(value: unknown): string {
  if (typeof value !== 'string' || !UUID.test(value))
    throw new MediaError('VALIDATION_FAILED', 'mediaId must be a UUID');
  return value;
}

function toEntryDto(entry: BlocklistEntry, quarantined: number): BlocklistEntryDto {
  return {
    id: entry.id,
    reason: entry.reason,
    source: entry.source,
    mediaId: entry.mediaId,
    hashes: entry.hashes.map(({ algorithm, hash }) => ({ algorithm, hash })),
    createdAt: entry.createdAt.toISOString(),
    quarantined,
  };
}
