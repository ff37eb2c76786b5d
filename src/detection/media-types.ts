const MB = 1024 * 1024;

/**
 * The media types and what every list of them is derived from: the size limit's default
 * (MAX_<TYPE>_BYTES, docs/configuration.md) and the plural that names the type in messages. Lists
 * that cannot be derived (the database enum, the proto's media_type) are checked against
 * this table by test/processing/media-type-registry.test.ts; each type's processor is
 * registered in processing/processing.module.ts.
 */
export const MEDIA_TYPE_TABLE = {
  image: { defaultMaxBytes: 25 * MB, plural: 'images' },
  video: { defaultMaxBytes: 100 * MB, plural: 'videos' },
  audio: { defaultMaxBytes: 50 * MB, plural: 'audio files' },
  document: { defaultMaxBytes: 25 * MB, plural: 'documents' },
  archive: { defaultMaxBytes: 50 * MB, plural: 'archives' },
} as const satisfies Record<string, { defaultMaxBytes: number; plural: string }>;

export type MediaType = keyof typeof MEDIA_TYPE_TABLE;
export const MEDIA_TYPES = Object.keys(MEDIA_TYPE_TABLE) as readonly MediaType[];

export interface DetectedFormat {
  type: MediaType;
  /** Canonical MIME type of the format. */
  mime: string;
  /** Canonical file extension, used to name downloads. */
  ext: string;
  /** Text only: the character encoding, served in the Content-Type of downloads. */
  charset?: string;
}

/**
 * The formats of docs/behaviour.md, keyed by what `file-type` reports. Anything not listed
 * (SVG, HTML, executables, Matroska that is not WebM, ...) is unsupported.
 */
export const SUPPORTED_BY_FILE_TYPE: Record<string, DetectedFormat> = {
  jpg: { type: 'image', mime: 'image/jpeg', ext: 'jpg' },
  png: { type: 'image', mime: 'image/png', ext: 'png' },
  apng: { type: 'image', mime: 'image/apng', ext: 'png' },
  webp: { type: 'image', mime: 'image/webp', ext: 'webp' },
  heic: { type: 'image', mime: 'image/heic', ext: 'heic' },
  avif: { type: 'image', mime: 'image/avif', ext: 'avif' },
  gif: { type: 'image', mime: 'image/gif', ext: 'gif' },
  mp4: { type: 'video', mime: 'video/mp4', ext: 'mp4' },
  mov: { type: 'video', mime: 'video/quicktime', ext: 'mov' },
  avi: { type: 'video', mime: 'video/x-msvideo', ext: 'avi' },
  webm: { type: 'video', mime: 'video/webm', ext: 'webm' },
  mp3: { type: 'audio', mime: 'audio/mpeg', ext: 'mp3' },
  wav: { type: 'audio', mime: 'audio/wav', ext: 'wav' },
  aac: { type: 'audio', mime: 'audio/aac', ext: 'aac' },
  m4a: { type: 'audio', mime: 'audio/mp4', ext: 'm4a' },
  ogg: { type: 'audio', mime: 'audio/ogg', ext: 'ogg' },
  oga: { type: 'audio', mime: 'audio/ogg', ext: 'ogg' },
  opus: { type: 'audio', mime: 'audio/ogg', ext: 'opus' },
  pdf: { type: 'document', mime: 'application/pdf', ext: 'pdf' },
  rar: { type: 'archive', mime: 'application/vnd.rar', ext: 'rar' },
};

export const ZIP: DetectedFormat = { type: 'archive', mime: 'application/zip', ext: 'zip' };
export const DOCX: DetectedFormat = {
  type: 'document',
  mime: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  ext: 'docx',
};
export const DOC: DetectedFormat = { type: 'document', mime: 'application/msword', ext: 'doc' };
export const TXT: DetectedFormat = { type: 'document', mime: 'text/plain', ext: 'txt', charset: 'utf-8' };
export const TXT_UTF16: DetectedFormat = { type: 'document', mime: 'text/plain', ext: 'txt', charset: 'utf-16' };

/** file-type names for ZIP containers that are not executables (jar, apk, xpi are refused); which format it is is decided by its directory. */
export const ZIP_CONTAINERS = new Set(['zip', 'docx', 'xlsx', 'pptx', 'odt', 'ods', 'odp', 'epub', '3mf', 'vsdx']);

/** Other extensions that name each stored type's format; a download keeps a name that has one. */
const EXTENSION_ALIASES: Record<string, string[]> = {
  jpg: ['jpeg', 'jpe', 'jfif'],
  heic: ['heif'],
  mov: ['qt'],
  m4a: ['mp4', 'aac'],
  ogg: ['oga', 'opus'],
  // Text under a text extension stays as named; a markup or script extension (html, svg, js) never does.
  txt: ['text', 'md', 'markdown', 'csv', 'tsv', 'log', 'json', 'yaml', 'yml', 'srt', 'vtt'],
};

const ALL_FORMATS = [...Object.values(SUPPORTED_BY_FILE_TYPE), ZIP, DOCX, DOC, TXT];

/** The format of a stored MIME type (with the charset of text); undefined for an unknown type. */
export function formatOfMime(mime: string, charset?: string): DetectedFormat | undefined {
  const format = ALL_FORMATS.find((f) => f.mime === mime);
  return format && charset ? { ...format, charset } : format;
}

/** The extensions that name a file of this MIME type: the canonical one first. Empty for an unknown type. */
export function extensionsOf(mime: string): string[] {
  const ext = ALL_FORMATS.find((format) => format.mime === mime)?.ext;
  return ext ? [ext, ...(EXTENSION_ALIASES[ext] ?? [])] : [];
}
