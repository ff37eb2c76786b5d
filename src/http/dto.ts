import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ERRORS } from '../errors.js';

/** OpenAPI shapes of CONTRACT §2; the values are built by media-view.ts and MediaService.storage. */
export class PreviewDto {
  @ApiProperty({ enum: [64, 256, 512] }) size!: number;
  @ApiProperty() width!: number;
  @ApiProperty() height!: number;
  @ApiProperty({ example: 'image/webp' }) mimeType!: string;
}

export class MediaDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ example: 'alice' }) ownerId!: string;
  @ApiProperty({ enum: ['image', 'video', 'audio', 'document', 'archive'] }) type!: string;
  @ApiProperty({ enum: ['ready', 'processing', 'failed'] }) status!: string;
  @ApiPropertyOptional({ description: 'Only when status is failed: a code of the error table', example: 'CORRUPT_FILE' }) failureReason?: string;
  @ApiProperty({ description: 'MIME type of the stored (processed) file' }) mimeType!: string;
  @ApiProperty({ description: 'MIME type detected from the uploaded bytes' }) originalMimeType!: string;
  @ApiProperty({ description: 'Sanitised file name as uploaded' }) originalName!: string;
  @ApiProperty() originalSize!: number;
  @ApiProperty() size!: number;
  @ApiProperty({ description: 'Hex SHA-256 of the stored plaintext' }) sha256!: string;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'Per type: width, height, durationMs, pages ...' })
  metadata!: Record<string, unknown>;
  @ApiProperty({ type: [PreviewDto] }) previews!: PreviewDto[];
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

export class TypeUsageDto {
  @ApiProperty() count!: number;
  @ApiProperty() bytes!: number;
}

export class StorageDto {
  @ApiProperty() usedBytes!: number;
  @ApiProperty({ example: 1073741824 }) limitBytes!: number;
  @ApiProperty() fileCount!: number;
  @ApiProperty() uploadsToday!: number;
  @ApiProperty({ example: 100 }) dailyUploadLimit!: number;
  @ApiProperty({
    type: 'object',
    description: 'Keys: image, video, audio, document, archive',
    additionalProperties: { $ref: '#/components/schemas/TypeUsageDto' },
  })
  byType!: Record<string, TypeUsageDto>;
}

/** Every error body (CONTRACT §2 "Errors"); never a stack trace or an internal path. */
export class ErrorDto {
  @ApiProperty({ type: 'integer', example: 400 }) statusCode!: number;
  @ApiProperty({ enum: Object.keys(ERRORS), example: 'VALIDATION_FAILED' }) code!: string;
  @ApiProperty({ example: 'The request is malformed' }) message!: string;
  @ApiProperty({ description: 'The X-Request-Id of the answer' }) requestId!: string;
}

export class UploadDto {
  @ApiProperty({ type: 'string', format: 'binary', description: 'The one file part' }) file!: unknown;
}

/** Terminus's health body: each check by name, e.g. `{ "database": { "status": "up" } }`. */
export class HealthDto {
  @ApiProperty({ enum: ['ok', 'error', 'shutting_down'] }) status!: string;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'The checks that are up' }) info?: Record<string, unknown>;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'The checks that are down' }) error?: Record<string, unknown>;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'Every check' }) details?: Record<string, unknown>;
}
