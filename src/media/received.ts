import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FreshDataKey } from '../crypto/data-key.service.js';
import { confirm, type Sniffed } from '../detection/detect-type.js';
import type { DetectedFormat, MediaType } from '../detection/media-types.js';
import type { EncryptedBlobs, SealedFileAccess } from './encrypted-blobs.js';
import { sanitizeFileName } from './file-name.js';
import type { Digests } from './resumable/live-digest.js';
import { fileTooLarge } from './size-limits.js';
import { Sniffer } from './streams/sniffer.js';

/** An upload's bytes, in: sealed in a file, hashed, its format proven — what either edge hands the rest of the pipeline. */
export interface Received {
  /** The sealed file. */
  path: string;
  /** Its plaintext, read at random (segments cached), shared by format checks and processors; closed by whoever received it. */
  file: SealedFileAccess;
  dataKey: FreshDataKey;
  name: string;
  size: number;
  sha256: string;
  md5: string;
  format: DetectedFormat;
}

/** A complete sealed file of the blob format under `dataKey`, `size` bytes of plaintext (a resumable upload's). */
export interface SealedFile {
  path: string;
  dataKey: FreshDataKey;
  size: number;
  filename: string;
  /** Its digests and type when they were taken as it arrived; else the file is read once for them. */
  digests?: Digests;
  signal: AbortSignal;
}

/** A complete sealed file, proven as a streamed upload is: its digests and type, its format confirmed, its type's size limit. */
export async function proveSealed(
  blobs: EncryptedBlobs,
  maxBytes: Record<MediaType, number>,
  sealed: SealedFile,
): Promise<Received> {
  const { sha256, md5, sniffed } = sealed.digests ?? (await digestSealed(blobs, sealed));
  const file = blobs.sealedFile(sealed.path, sealed.dataKey, sealed.size);
  const format = await proveFormat(file, sniffed, maxBytes);
  return {
    path: sealed.path,
    file,
    dataKey: sealed.dataKey,
    name: sanitizeFileName(sealed.filename, format.ext),
    size: sealed.size,
    sha256,
    md5,
    format,
  };
}

/** The digests and sniffed type of a sealed file, in one streamed pass over its plaintext. */
async function digestSealed(blobs: EncryptedBlobs, sealed: SealedFile): Promise<Digests> {
  const sniffer = new Sniffer();
  const hasher = blobs.hasher();
  const plaintext = await blobs.openSealedFile(sealed.path, sealed.dataKey, sealed.size);
  await pipeline([plaintext, sniffer, hasher, new Writable({ write: (_chunk, _encoding, done) => done() })], {
    signal: sealed.signal,
  });
  return { sha256: hasher.digest('sha256'), md5: hasher.digest('md5'), sniffed: sniffer.result as Digests['sniffed'] };
}

/**
 * The sealed file's format, confirmed from its whole plaintext, within its type's size limit;
 * a refusal closes the file before it is reported.
 */
export async function proveFormat(
  file: SealedFileAccess,
  sniffed: Sniffed,
  maxBytes: Record<MediaType, number>,
): Promise<DetectedFormat> {
  try {
    const format = await confirm(sniffed, file);
    if (file.size > maxBytes[format.type]) throw fileTooLarge(format.type, maxBytes[format.type]);
    return format;
  } catch (error) {
    await file.close();
    throw error;
  }
}
