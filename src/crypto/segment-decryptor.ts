import { createDecipheriv } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import {
  type BlobHeader,
  decodeHeader,
  DecryptionError,
  HEADER_BYTES,
  segmentCount,
  segmentNonce,
  TAG_BYTES,
} from './segment-format.js';

export interface DecryptorOptions {
  key: Buffer;
  /** The data key id the blob must carry. */
  dataKeyId: string;
  /** The header, when the stream starts at a segment (ranged reads); else it is read from the stream. */
  header?: Buffer;
  /** Index of the first segment in the stream. */
  firstSegment?: number;
  /** How many segments the stream must hold (or how to tell from the header's segment size). */
  segments: number | ((segmentSize: number) => number);
  /** Whether the stream's last segment is the blob's last one. */
  endsAtFinal?: boolean;
}

/**
 * Opens segments one at a time and releases a segment's plaintext only after its tag
 * verified: a tampered, truncated, reordered or foreign segment ends the stream with a
 * DecryptionError before any of its bytes are pushed.
 */
export class SegmentDecryptor extends Transform {
  private headerBytes?: Buffer;
  private header?: BlobHeader;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private index: number;
  private opened = 0;

  constructor(private readonly options: DecryptorOptions) {
    super();
    this.index = options.firstSegment ?? 0;
    if (options.header) this.acceptHeader(options.header);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      if (!this.header && this.buffered >= HEADER_BYTES) this.acceptHeader(this.takeBytes(HEADER_BYTES));
      const unit = this.header ? this.header.segmentSize + TAG_BYTES : Infinity;
      // Hold back a full unit until more arrives: only the stream's end says which is last.
      const plain: Buffer[] = [];
      while (this.buffered > unit) plain.push(this.open(this.takeBytes(unit), false));
      // One push per input chunk: few, large writes to the socket.
      done(null, plain.length ? Buffer.concat(plain) : undefined);
    } catch (error) {
      done(error as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      if (!this.header) throw new DecryptionError('truncated header');
      const final = this.options.endsAtFinal ?? true;
      const plain = this.open(this.takeBytes(this.buffered), final);
      const expected =
        typeof this.options.segments === 'function'
          ? this.options.segments(this.header.segmentSize)
          : this.options.segments;
      if (this.opened !== expected) throw new DecryptionError('wrong number of segments');
      done(null, plain.length ? plain : undefined);
    } catch (error) {
      done(error as Error);
    }
  }

  private acceptHeader(bytes: Buffer): void {
    this.header = headerOf(bytes, this.options.dataKeyId);
    this.headerBytes = bytes;
  }

  /** The segment's plaintext, once its tag verified. */
  private open(unit: Buffer, last: boolean): Buffer {
    const plain = openSegment(this.header!, this.headerBytes!, this.options.key, this.index++, unit, last);
    this.opened++;
    return plain;
  }

  private takeBytes(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    this.chunks = n < all.length ? [all.subarray(n)] : [];
    this.buffered -= n;
    return all.subarray(0, n);
  }
}

/**
 * The plaintext of a whole sealed blob held in memory (a small one: a preview, a chat's
 * thumbnail), with the stream's checks: its header names the data key, every segment
 * authenticates in order, the last one as the last, and there are as many as its size needs.
 */
export function openSealedBuffer(sealed: Buffer, options: { key: Buffer; dataKeyId: string; size: number }): Buffer {
  if (sealed.length < HEADER_BYTES) throw new DecryptionError('truncated header');
  const headerBytes = sealed.subarray(0, HEADER_BYTES);
  const header = headerOf(headerBytes, options.dataKeyId);
  const unit = header.segmentSize + TAG_BYTES;
  const segments = segmentCount(options.size, header.segmentSize);
  const plain: Buffer[] = [];
  for (let index = 0, at = HEADER_BYTES; index < segments; index++, at += unit) {
    const last = index === segments - 1;
    const end = last ? sealed.length : at + unit;
    if (end > sealed.length) throw new DecryptionError('wrong number of segments');
    plain.push(openSegment(header, headerBytes, options.key, index, sealed.subarray(at, end), last));
  }
  const whole = plain.length === 1 ? plain[0] : Buffer.concat(plain);
  if (whole.length !== options.size) throw new DecryptionError('wrong number of segments');
  return whole;
}

/** The header of a blob that must carry `dataKeyId`. */
export function headerOf(bytes: Buffer, dataKeyId: string): BlobHeader {
  const header = decodeHeader(bytes);
  if (header.dataKeyId !== dataKeyId) throw new DecryptionError('header belongs to another file');
  return header;
}

/** Segment `index`'s plaintext, once its tag verified against the header (its AAD) and its position. */
export function openSegment(
  header: BlobHeader,
  headerBytes: Buffer,
  key: Buffer,
  index: number,
  unit: Buffer,
  last: boolean,
): Buffer {
  if (unit.length < TAG_BYTES || unit.length > header.segmentSize + TAG_BYTES)
    throw new DecryptionError('truncated segment');
  if (!last && unit.length !== header.segmentSize + TAG_BYTES) throw new DecryptionError('short segment');
  const decipher = createDecipheriv('aes-256-gcm', key, segmentNonce(header.noncePrefix, index, last));
  decipher.setAAD(headerBytes);
  decipher.setAuthTag(unit.subarray(unit.length - TAG_BYTES));
  const plain = decipher.update(unit.subarray(0, unit.length - TAG_BYTES));
  try {
    decipher.final();
  } catch {
    throw new DecryptionError(`segment ${index} failed authentication`);
  }
  return plain;
}
