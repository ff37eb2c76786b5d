import { ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import { MEDIA_TYPES } from '../detection/media-types.js';
import { ERRORS } from '../errors.js';

/** OpenAPI shapes of the REST API (docs/api.md); the values are built by media-view.ts and MediaService.storage. */
export class PreviewDto {
  @ApiProperty({ enum: [64, 256, 512] }) size!: number;
  @ApiProperty() width!: number;
  @ApiProperty() height!: number;
  @ApiProperty({ example: 'image/webp' }) mimeType!: string;
}

/** `metadata` of an image (src/processing/image/image.processor.ts). */
export class ImageMetadataDto {
  @ApiProperty({ type: 'integer', description: 'Width after orientation was applied' }) width!: number;
  @ApiProperty({ type: 'integer', description: 'Height (of one frame) after orientation was applied' }) height!: number;
  @ApiProperty({ enum: ['jpeg', 'png', 'webp', 'gif', 'avif'], description: 'Format of the stored version' })
  format!: string;
  @ApiProperty() hasAlpha!: boolean;
  @ApiProperty({ description: 'More than one frame' }) animated!: boolean;
  @ApiProperty({ type: 'integer', minimum: 1 }) frames!: number;
  @ApiProperty({ description: 'The EXIF orientation was applied to the pixels (and the EXIF dropped)' })
  orientationApplied!: boolean;
  @ApiProperty({
    description: 'ThumbHash of the image, base64: a placeholder clients can draw before the preview arrives',
  })
  thumbhash!: string;
  @ApiPropertyOptional({
    description: 'Camera make and model from the EXIF, when present; never location',
    example: 'Canon EOS 5D',
  })
  camera?: string;
  @ApiPropertyOptional({ format: 'date-time', description: 'When the photo was taken (EXIF), when present' })
  takenAt?: string;
}

export class VideoCodecsDto {
  @ApiPropertyOptional({ example: 'h264' }) video?: string;
  @ApiPropertyOptional({ description: 'Absent when the video has no sound', example: 'aac' }) audio?: string;
}

export class VideoOriginalDto {
  @ApiPropertyOptional({ type: VideoCodecsDto }) codecs?: VideoCodecsDto;
  @ApiPropertyOptional({ type: 'integer', description: 'Bits per second' }) bitrate?: number;
}

/** `metadata` of a video (src/processing/video/video.processor.ts): the stored file's facts. */
export class VideoMetadataDto {
  @ApiProperty({ type: 'integer' }) durationMs!: number;
  @ApiProperty({ type: 'integer' }) width!: number;
  @ApiProperty({ type: 'integer' }) height!: number;
  @ApiPropertyOptional({ description: 'Average frames per second', example: 29.97 }) fps?: number;
  @ApiProperty({ type: VideoCodecsDto }) codecs!: VideoCodecsDto;
  @ApiPropertyOptional({ type: 'integer', description: 'Bits per second' }) bitrate?: number;
  @ApiProperty() hasAudio!: boolean;
  @ApiProperty({
    description: 'The upload was already H.264 (+ AAC) within 1080p in MP4/MOV, so it was remuxed, not transcoded',
  })
  compliant!: boolean;
  @ApiPropertyOptional({
    type: VideoOriginalDto,
    description: "The upload's codecs and bitrate, once a remuxed or transcoded version replaced it",
  })
  original?: VideoOriginalDto;
}

export class AudioOriginalDto {
  @ApiPropertyOptional({ example: 'pcm_s16le' }) codec?: string;
  @ApiPropertyOptional({ type: 'integer', description: 'Bits per second' }) bitrate?: number;
}

/** `metadata` of an audio file (src/processing/audio/audio.processor.ts): the stored file's facts. */
export class AudioMetadataDto {
  @ApiProperty({ type: 'integer' }) durationMs!: number;
  @ApiPropertyOptional({ example: 'mp3' }) codec?: string;
  @ApiPropertyOptional({ type: 'integer', description: 'Bits per second' }) bitrate?: number;
  @ApiPropertyOptional({ type: 'integer' }) channels?: number;
  @ApiPropertyOptional({ type: 'integer', description: 'Samples per second' }) sampleRate?: number;
  @ApiProperty({ type: [Number], description: '100 peak values from 0 to 1, for clients to draw their own waveform' })
  peaks!: number[];
  @ApiPropertyOptional({
    type: AudioOriginalDto,
    description: "The upload's codec and bitrate, once an MP3 version replaced it",
  })
  original?: AudioOriginalDto;
}

/** `metadata` of a document (src/processing/document/document.processor.ts). */
export class DocumentMetadataDto {
  @ApiPropertyOptional({ type: 'integer', description: 'PDF, DOC and DOCX' }) pages?: number;
  @ApiPropertyOptional({ type: 'integer', description: 'Text only' }) characters?: number;
  @ApiPropertyOptional({ type: 'integer', description: 'Text only' }) lines?: number;
  @ApiPropertyOptional({
    enum: ['utf-8', 'utf-16'],
    description: "Text only; downloads carry it in Content-Type's charset",
  })
  charset?: string;
}

/** `metadata` of an archive (src/processing/archive/archive-verdict.ts): its directory, never extracted. */
export class ArchiveMetadataDto {
  @ApiProperty({ type: 'integer' }) entries!: number;
  @ApiProperty({ type: 'integer', description: 'Sum of the declared sizes of the entries' }) uncompressedBytes!: number;
  @ApiProperty({ type: 'integer', description: 'Entries that are encrypted' }) encryptedEntries!: number;
  @ApiProperty({ type: 'integer', description: 'Entries that are archives themselves' }) nestedArchives!: number;
}

/** The per-type metadata schemas; MediaDto.metadata is one of them (register them with ApiExtraModels). */
export const METADATA_SCHEMAS = [
  ImageMetadataDto,
  VideoMetadataDto,
  AudioMetadataDto,
  DocumentMetadataDto,
  ArchiveMetadataDto,
];

export class MediaDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ example: 'alice' }) ownerId!: string;
  @ApiProperty({ enum: [...MEDIA_TYPES] }) type!: string;
  @ApiProperty({ enum: ['ready', 'processing', 'failed'] }) status!: string;
  @ApiPropertyOptional({
    description: 'Only when status is failed: a code of the error table',
    example: 'CORRUPT_FILE',
  })
  failureReason?: string;
  @ApiProperty({ description: 'MIME type of the stored (processed) file' }) mimeType!: string;
  @ApiProperty({ description: 'MIME type detected from the uploaded bytes' }) originalMimeType!: string;
  @ApiProperty({ description: 'Sanitised file name as uploaded' }) originalName!: string;
  @ApiProperty() originalSize!: number;
  @ApiProperty() size!: number;
  @ApiProperty({ description: 'Hex SHA-256 of the stored plaintext' }) sha256!: string;
  @ApiProperty({
    description:
      'Per type (see `type`): ImageMetadataDto, VideoMetadataDto, AudioMetadataDto, DocumentMetadataDto or ArchiveMetadataDto. ' +
      'Video and audio metadata describe the stored file; a key that could not be read is absent.',
    anyOf: METADATA_SCHEMAS.map((schema) => ({ $ref: getSchemaPath(schema) })),
  })
  metadata!: Record<string, unknown>;
  @ApiProperty({ type: [PreviewDto] }) previews!: PreviewDto[];
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({
    type: 'string',
    format: 'date-time',
    nullable: true,
    description:
      'Disappearing media: from this instant every read answers 404 and the media is deleted within 60 s; null when it does not expire',
  })
  expiresAt!: string | null;
}

export class SignedUrlRequestDto {
  @ApiProperty({ type: 'integer', minimum: 1, maximum: 86400, description: 'Seconds the URL works for' })
  expiresIn!: number;
  @ApiProperty({ enum: ['original', 'preview-64', 'preview-256', 'preview-512'] }) variant!: string;
}

export class SignedUrlDto {
  @ApiProperty({
    description:
      'A path on this service ending in ?token=…: /api/v1/media/{id}?token=… or /api/v1/media/{id}/preview?size=N&token=…',
    example: '/api/v1/media/0b6f…?token=eyJr…',
  })
  url!: string;
  @ApiProperty({ format: 'date-time' }) expiresAt!: string;
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
    description: `Keys: ${MEDIA_TYPES.join(', ')}`,
    additionalProperties: { $ref: '#/components/schemas/TypeUsageDto' },
  })
  byType!: Record<string, TypeUsageDto>;
}

/** Every error body (docs/api.md, "Errors"); never a stack trace or an internal path. */
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
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'The checks that are up' })
  info?: Record<string, unknown>;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'The checks that are down' })
  error?: Record<string, unknown>;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'Every check' }) details?: Record<
    string,
    unknown
  >;
}
