/**
 * Layout of an encrypted blob (format version 1):
 *
 *   header  = "WMSE" | version u8 = 1 | segment size u32 BE | nonce prefix (7) | data key id (16)
 *   segment = AES-256-GCM(plaintext[i*S .. (i+1)*S)) | tag (16)
 *   nonce_i = nonce prefix | i as u32 BE | 0x01 on the last segment else 0x00
 *   AAD     = header
 *
 * The header rides in every segment's AAD, so a header or a segment from another file
 * fails authentication; the counter in the nonce detects reordering, and the last-segment
 * flag detects truncation and extension (the STREAM construction of Hoang-Reyhanitabar-
 * Rogaway-Vizár). Every file has at least one segment, possibly empty.
 */
export const MAGIC = Buffer.from('WMSE', 'ascii');
export const FORMAT_VERSION = 1;
export const HEADER_BYTES = 32;
export const TAG_BYTES = 16;
export const NONCE_PREFIX_BYTES = 7;
export const DEFAULT_SEGMENT_BYTES = 64 * 1024;

export interface BlobHeader {
  segmentSize: number;
  noncePrefix: Buffer;
  /** The data key's id (a UUID), binding the blob to its key row. */
  dataKeyId: string;
}

export function encodeHeader(header: BlobHeader): Buffer {
  const out = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(out, 0);
  out.writeUInt8(FORMAT_VERSION, 4);
  out.writeUInt32BE(header.segmentSize, 5);
  header.noncePrefix.copy(out, 9, 0, NONCE_PREFIX_BYTES);
  Buffer.from(header.dataKeyId.replace(/-/g, ''), 'hex').copy(out, 16);
  return out;
}

export function decodeHeader(bytes: Buffer): BlobHeader {
  if (bytes.length < HEADER_BYTES || !bytes.subarray(0, 4).equals(MAGIC))
    throw new DecryptionError('not an encrypted blob');
  if (bytes.readUInt8(4) !== FORMAT_VERSION) throw new DecryptionError('unknown format version');
  const segmentSize = bytes.readUInt32BE(5);
  if (segmentSize < 1024 || segmentSize > 16 * 1024 * 1024) throw new DecryptionError('bad segment size');
  const hex = bytes.toString('hex', 16, 32);
  const dataKeyId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return { segmentSize, noncePrefix: Buffer.from(bytes.subarray(9, 16)), dataKeyId };
}

export function segmentNonce(prefix: Buffer, index: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  prefix.copy(nonce, 0, 0, NONCE_PREFIX_BYTES);
  nonce.writeUInt32BE(index, 7);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

export function segmentCount(plainSize: number, segmentSize: number): number {
  return Math.max(1, Math.ceil(plainSize / segmentSize));
}

export function encryptedSize(plainSize: number, segmentSize = DEFAULT_SEGMENT_BYTES): number {
  return HEADER_BYTES + plainSize + segmentCount(plainSize, segmentSize) * TAG_BYTES;
}

/** Which segments, and which ciphertext bytes, hold plaintext bytes [start, end] (inclusive). */
export function segmentSpan(plainSize: number, segmentSize: number, start: number, end: number) {
  const unit = segmentSize + TAG_BYTES;
  const first = Math.floor(start / segmentSize);
  const last = Math.floor(end / segmentSize);
  const lastLength = Math.min(segmentSize, plainSize - last * segmentSize);
  return {
    first,
    last,
    includesFinal: last === segmentCount(plainSize, segmentSize) - 1,
    cipherStart: HEADER_BYTES + first * unit,
    cipherEnd: HEADER_BYTES + last * unit + lastLength + TAG_BYTES - 1,
    skip: start - first * segmentSize,
  };
}

/** Authentication failed or the blob is malformed: the bytes are never released. */
export class DecryptionError extends Error {
  constructor(why: string) {
    super(`Encrypted blob rejected: ${why}`);
    this.name = 'DecryptionError';
  }
}
