import { fileTypeFromBuffer } from 'file-type';
import { MediaError } from '../errors.js';
import {
  DOC,
  DOCX,
  type DetectedFormat,
  type MediaType,
  SUPPORTED_BY_FILE_TYPE,
  TXT,
  TXT_UTF16,
  ZIP,
  ZIP_CONTAINERS,
} from './media-types.js';
import { readOleStreamNames } from './ole-directory.js';
import type { RandomAccess } from './random-access.js';
import { looksLikeMarkup, TextChecker, textEncodingOf } from './text-check.js';
import { confirmWordPackage, isWordPackage } from './word-package.js';
import { readZipEntries } from './zip-directory.js';

/** How many leading bytes the sniffer needs (file-type's sample size). */
export const SNIFF_BYTES = 4100;

/**
 * What the first bytes say. `zip`, `ole` and `text` are only candidates: the whole file
 * decides (its ZIP directory, its OLE directory, or every byte being text).
 */
export type Sniffed =
  /** `text`: the head is text too; if the whole file is, it is a text note that starts like a signature. */
  | { kind: 'format'; format: DetectedFormat; text?: TextChecker }
  | { kind: 'zip' }
  | { kind: 'ole' }
  | { kind: 'text'; checker: TextChecker };

/** The media types a sniffed file may still turn out to be; its size limit is the largest of theirs. */
export function candidateTypes(sniffed: Sniffed): MediaType[] {
  if (sniffed.kind === 'format')
    return sniffed.text && sniffed.format.type !== 'document'
      ? [sniffed.format.type, 'document']
      : [sniffed.format.type];
  if (sniffed.kind === 'zip') return ['archive', 'document'];
  return ['document'];
}

const unsupported = () => new MediaError('UNSUPPORTED_MEDIA_TYPE');

/** The formats taken, by name, for messages: "JPEG, PNG, … TXT". */
const SUPPORTED_NAMES = [
  ...new Set(
    [...Object.values(SUPPORTED_BY_FILE_TYPE), ZIP, DOCX, DOC, TXT].map((format) =>
      format.ext === 'jpg' ? 'JPEG' : format.ext.toUpperCase(),
    ),
  ),
].join(', ');

/** 415 naming what the bytes were found to be and what would have been taken. */
const unsupportedFormat = (found: { ext: string; mime: string }) =>
  new MediaError(
    'UNSUPPORTED_MEDIA_TYPE',
    `The file is ${found.ext.toUpperCase()} (${found.mime}), which is not supported; supported formats: ${SUPPORTED_NAMES}`,
  );

/**
 * file-type 21 (its last release for Node 20) takes any MPEG frame sync for MP1/MP2/MP3.
 * Release 22 refuses the headers no encoder writes (reserved version, bad bitrate,
 * reserved sampling rate) and the MPEG-1 Layer I header that is byte-identical to a
 * UTF-16 LE BOM, and masks the bytes of an ID3 tag size; so do we, and such a head goes on
 * to the text check.
 */
function implausibleMpegFrame(head: Buffer, ext: string): boolean {
  if (!['mp1', 'mp2', 'mp3'].includes(ext)) return false;
  const at = mpegFrameOffset(head);
  if (at + 3 > head.length) return false; // the ID3 tag runs past the head: both releases say MP3
  const [sync, b1, b2] = head.subarray(at, at + 3);
  return (
    sync !== 0xff ||
    (b1 & 0xe0) !== 0xe0 ||
    b1 === 0xfe ||
    (b1 & 0x18) === 0x08 ||
    (b2 & 0xf0) === 0xf0 ||
    (b2 & 0x0c) === 0x0c
  );
}

/** Where the first frame is: past any ID3v2 tags (10-byte header, syncsafe size). */
function mpegFrameOffset(head: Buffer): number {
  let at = 0;
  for (let tags = 0; tags < 256 && at + 10 <= head.length && head.toString('latin1', at, at + 3) === 'ID3'; tags++) {
    at += 10 + head.subarray(at + 6, at + 10).reduce((size, byte) => (size << 7) | (byte & 0x7f), 0);
  }
  return at;
}

/**
 * Classifies the first bytes of an upload; unsupported content is refused here, before the
 * rest arrives. A signature is four bytes or so, and notes start with words like `BMW`,
 * `MZ-5`, `ID3`, `GIF87a`, `%PDF`: a head that is text as well stays a text candidate,
 * decided by the whole file (see confirm).
 */
export async function sniff(head: Buffer): Promise<Sniffed> {
  const found = await fileTypeFromBuffer(head);
  const format = found && !implausibleMpegFrame(head, found.ext) ? found.ext : undefined;
  const text = textCandidate(head);
  if (format) {
    if (SUPPORTED_BY_FILE_TYPE[format]) return { kind: 'format', format: SUPPORTED_BY_FILE_TYPE[format], text };
    if (ZIP_CONTAINERS.has(format)) return { kind: 'zip' };
    if (format === 'cfb') return { kind: 'ole' };
  }
  if (text) return { kind: 'text', checker: text };
  throw found && format ? unsupportedFormat(found) : unsupported();
}

/** A checker for the whole file when this head is text and not markup; undefined otherwise. */
function textCandidate(head: Buffer): TextChecker | undefined {
  const encoding = textEncodingOf(head);
  if (looksLikeMarkup(head, encoding)) return undefined;
  // The head is checked again as part of the whole file; this copy only decides early.
  if (!new TextChecker(encoding).push(head)) return undefined;
  return new TextChecker(encoding);
}

const textFormat = (checker: TextChecker): DetectedFormat => (checker.encoding === 'utf-8' ? TXT : TXT_UTF16);

/**
 * A signature followed by nothing but text. No binary format we take can be all text
 * (their headers hold sizes and flags, their data is compressed) but PDF: a PDF of plain
 * ASCII is still a PDF when it is shaped like one, a version header and an end-of-file
 * marker at its end. Anything else is a note that happens to start like a signature.
 */
async function signatureOrText(
  format: DetectedFormat,
  checker: TextChecker,
  file: RandomAccess,
): Promise<DetectedFormat> {
  if (format.mime !== 'application/pdf') return textFormat(checker);
  const head = await file.read(0, 8);
  const tail = (await file.read(Math.max(0, file.size - 1024), 1024)).toString('latin1');
  return /^%PDF-\d\.\d/.test(head.toString('latin1')) && tail.includes('%%EOF') ? format : textFormat(checker);
}

/** Decides the final format once the whole file has arrived and can be read at random. */
export async function confirm(sniffed: Sniffed, file: RandomAccess): Promise<DetectedFormat> {
  switch (sniffed.kind) {
    case 'format':
      return sniffed.text?.end() ? signatureOrText(sniffed.format, sniffed.text, file) : sniffed.format;
    case 'text':
      if (!sniffed.checker.end()) throw unsupported();
      return textFormat(sniffed.checker);
    case 'zip': {
      const entries = await readZipEntries(file);
      if (!isWordPackage(entries.map((entry) => entry.name))) return ZIP;
      await confirmWordPackage(file, entries);
      return DOCX;
    }
    case 'ole':
      if (!(await readOleStreamNames(file)).includes('WordDocument')) throw unsupported();
      return DOC;
  }
}
