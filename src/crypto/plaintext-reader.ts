import { pipeline, type Readable, type Transform } from 'node:stream';
import { bytesOf } from '../common/bytes-of.js';
import type { ByteRange } from '../storage/blob-store.js';
import { headerOf, openSegment, SegmentDecryptor } from './segment-decryptor.js';
import { boundedCache } from '../common/cache.js';
import { type BlobHeader, decodeHeader, HEADER_BYTES, segmentCount, segmentSpan, TAG_BYTES } from './segment-format.js';
import { Slice } from './slice.js';

/** Reads the ciphertext bytes of a blob, whole or an inclusive range (a store, a local file). */
export type CipherSource = (range?: ByteRange) => Promise<Readable>;

/** Reads the inclusive range of a blob's ciphertext as one buffer (shorter at the blob's end). */
export type CipherBytes = (range: ByteRange) => Promise<Buffer>;

export interface SealedBlob {
  key: Buffer;
  dataKeyId: string;
  /** Plaintext size. */
  size: number;
}

/**
 * The plaintext of a sealed blob, or of the inclusive `range` of it. A range reads the
 * header and only the segments holding the range; every segment is authenticated before
 * any of its bytes are released.
 */
export async function readPlaintext(source: CipherSource, blob: SealedBlob, range?: ByteRange): Promise<Readable> {
  if (!range) {
    const segments = (segmentSize: number) => segmentCount(blob.size, segmentSize);
    return chain(await source(), new SegmentDecryptor({ key: blob.key, dataKeyId: blob.dataKeyId, segments }));
  }
  const header = await bytesOf(await source({ start: 0, end: HEADER_BYTES - 1 }));
  const span = segmentSpan(blob.size, decodeHeader(header).segmentSize, range.start, range.end);
  const decryptor = new SegmentDecryptor({
    key: blob.key,
    dataKeyId: blob.dataKeyId,
    header,
    firstSegment: span.first,
    segments: span.last - span.first + 1,
    endsAtFinal: span.includesFinal,
  });
  return chain(
    await source({ start: span.cipherStart, end: span.cipherEnd }),
    decryptor,
    new Slice(span.skip, range.end - range.start + 1),
  );
}

/** How many decrypted segments a random-access reader keeps (2 MiB at 64 KiB). */
const CACHED_SEGMENTS = 32;

/**
 * Random access to a sealed blob's plaintext, for parsers that seek (ZIP and OLE
 * directories). Reads whole segments, each in one read of its bytes opened in place (no
 * stream per read), and keeps the most recent ones, so a parser that hops between a few
 * sectors decrypts each segment once. Each segment authenticates before any of its bytes
 * are answered, the blob's last one as the last.
 */
export function plaintextReader(readBytes: CipherBytes, blob: SealedBlob) {
  // Entries only: each holds one segment at most (a promise, its size unknown when set).
  const cache = boundedCache<number, Promise<Buffer>>({ max: CACHED_SEGMENTS });
  let opened: Promise<{ bytes: Buffer; header: BlobHeader }> | undefined;
  const header = () =>
    (opened ??= readBytes({ start: 0, end: HEADER_BYTES - 1 }).then((bytes) => ({
      bytes,
      header: headerOf(bytes, blob.dataKeyId),
    })));
  const segment = (index: number): Promise<Buffer> => {
    let plain = cache.get(index);
    if (!plain) {
      plain = header().then(async ({ bytes, header: decoded }) => {
        const { segmentSize } = decoded;
        const start = HEADER_BYTES + index * (segmentSize + TAG_BYTES);
        const length = Math.min(segmentSize, blob.size - index * segmentSize) + TAG_BYTES;
        const unit = await readBytes({ start, end: start + length - 1 });
        const last = index === segmentCount(blob.size, segmentSize) - 1;
        return openSegment(decoded, bytes, blob.key, index, unit, last);
      });
      plain.catch(() => {});
      cache.set(index, plain);
    }
    return plain;
  };
  return {
    size: blob.size,
    read: async (position: number, length: number): Promise<Buffer> => {
      const end = Math.min(blob.size, position + length);
      if (length <= 0 || position >= end) return Buffer.alloc(0);
      const { segmentSize } = (await header()).header;
      const parts: Buffer[] = [];
      for (let index = Math.floor(position / segmentSize); index * segmentSize < end; index++) {
        const base = index * segmentSize;
        parts.push((await segment(index)).subarray(Math.max(0, position - base), end - base));
      }
      return parts.length === 1 ? parts[0] : Buffer.concat(parts);
    },
  };
}

/** Pipes the streams and returns the last; an error or early close anywhere tears all of them down. */
function chain(source: Readable, ...transforms: Transform[]): Readable {
  return pipeline(source, ...(transforms as [Transform]), () => {}) as unknown as Readable;
}
