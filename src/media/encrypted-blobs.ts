import { Inject, Injectable } from '@nestjs/common';
import { pipeline, type Readable, type Transform } from 'node:stream';
import { DataKeyService, type FreshDataKey } from '../crypto/data-key.service.js';
import { SegmentDecryptor } from '../crypto/segment-decryptor.js';
import { SegmentEncryptor } from '../crypto/segment-encryptor.js';
import { decodeHeader, HEADER_BYTES, segmentCount, segmentSpan } from '../crypto/segment-format.js';
import { newBlobKey } from '../storage/blob-keys.js';
import { BLOB_STORE, type BlobStore, type ByteRange } from '../storage/blob-store.js';
import { Slice } from './streams/slice.js';

export interface WrittenBlob {
  blobKey: string;
  dataKey: FreshDataKey;
}

export interface BlobRef {
  blobKey: string;
  dataKeyId: string;
  /** Plaintext size. */
  size: number;
}

/** Encrypts into storage and decrypts out of it; the only code that pairs a blob with its key. */
@Injectable()
export class EncryptedBlobs {
  constructor(
    @Inject(BLOB_STORE) private readonly store: BlobStore,
    private readonly dataKeys: DataKeyService,
  ) {}

  /** Seals `plaintext` under a new data key of `ownerId` and stores it under a new key. */
  async write(ownerId: string, plaintext: Readable, signal?: AbortSignal): Promise<WrittenBlob> {
    const dataKey = await this.dataKeys.issue(ownerId);
    const blobKey = newBlobKey();
    const sealed = plaintext.pipe(new SegmentEncryptor({ key: dataKey.key, dataKeyId: dataKey.id }));
    plaintext.on('error', (error) => sealed.destroy(error));
    try {
      await this.store.put(blobKey, sealed, { signal });
    } catch (error) {
      await this.store.delete(blobKey).catch(() => {});
      throw error;
    }
    return { blobKey, dataKey };
  }

  /** The plaintext of the blob, or of the inclusive `range`, decrypting only the segments needed. */
  async read(ref: BlobRef, range?: ByteRange): Promise<Readable> {
    const key = await this.dataKeys.open(ref.dataKeyId);
    if (!range) {
      const source = await this.store.get(ref.blobKey);
      const segments = (segmentSize: number) => segmentCount(ref.size, segmentSize);
      return chain(source, new SegmentDecryptor({ key, dataKeyId: ref.dataKeyId, segments }));
    }
    const header = await readAll(await this.store.get(ref.blobKey, { start: 0, end: HEADER_BYTES - 1 }));
    const span = segmentSpan(ref.size, decodeHeader(header).segmentSize, range.start, range.end);
    const source = await this.store.get(ref.blobKey, { start: span.cipherStart, end: span.cipherEnd });
    const decryptor = new SegmentDecryptor({
      key,
      dataKeyId: ref.dataKeyId,
      header,
      firstSegment: span.first,
      segments: span.last - span.first + 1,
      endsAtFinal: span.includesFinal,
    });
    return chain(source, decryptor, new Slice(span.skip, range.end - range.start + 1));
  }

  async delete(blobKeys: string[]): Promise<void> {
    await Promise.all(blobKeys.map((key) => this.store.delete(key)));
  }
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Pipes the streams and returns the last; an error or early close anywhere tears all of them down. */
function chain(source: Readable, ...transforms: Transform[]): Readable {
  return pipeline(source, ...(transforms as [Transform]), () => {}) as unknown as Readable;
}
