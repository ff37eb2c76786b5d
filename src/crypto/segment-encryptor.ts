import { createCipheriv, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { DEFAULT_SEGMENT_BYTES, encodeHeader, NONCE_PREFIX_BYTES, segmentNonce } from './segment-format.js';

export interface EncryptorOptions {
  key: Buffer;
  dataKeyId: string;
  segmentSize?: number;
  /** Only for test vectors: a fixed nonce prefix. */
  noncePrefix?: Buffer;
}

/** Seals a plaintext stream as header + segments (see segment-format.ts). */
export class SegmentEncryptor extends Transform {
  private readonly header: Buffer;
  private readonly noncePrefix: Buffer;
  private readonly pending: Buffer;
  private filled = 0;
  private index = 0;
  /** Milliseconds spent sealing so far (the pipeline's "seal" stage). */
  busyMs = 0;

  constructor(private readonly options: EncryptorOptions) {
    super();
    const segmentSize = options.segmentSize ?? DEFAULT_SEGMENT_BYTES;
    this.noncePrefix = options.noncePrefix ?? randomBytes(NONCE_PREFIX_BYTES);
    this.header = encodeHeader({ segmentSize, noncePrefix: this.noncePrefix, dataKeyId: options.dataKeyId });
    this.pending = Buffer.allocUnsafe(segmentSize);
    this.push(this.header);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const sealed: Buffer[] = [];
    let at = 0;
    while (at < chunk.length) {
      // A full segment is sealed only once a later byte proves it is not the last.
      if (this.filled === this.pending.length) this.seal(false, sealed);
      const n = chunk.copy(this.pending, this.filled, at);
      this.filled += n;
      at += n;
    }
    // One push per input chunk keeps the writes few and large.
    done(null, sealed.length ? Buffer.concat(sealed) : undefined);
  }

  override _flush(done: TransformCallback): void {
    const sealed: Buffer[] = [];
    this.seal(true, sealed);
    done(null, Buffer.concat(sealed));
  }

  private seal(last: boolean, out: Buffer[]): void {
    const started = performance.now();
    out.push(
      ...sealSegment(
        this.options.key,
        this.header,
        this.noncePrefix,
        this.index++,
        last,
        this.pending.subarray(0, this.filled),
      ),
    );
    this.filled = 0;
    this.busyMs += performance.now() - started;
  }
}

/** Segment `index` of a blob whose header is `header`: its ciphertext and its tag. */
export function sealSegment(
  key: Buffer,
  header: Buffer,
  noncePrefix: Buffer,
  index: number,
  last: boolean,
  plaintext: Buffer,
): [Buffer, Buffer] {
  const cipher = createCipheriv('aes-256-gcm', key, segmentNonce(noncePrefix, index, last));
  cipher.setAAD(header);
  const sealed = cipher.update(plaintext);
  cipher.final();
  return [sealed, cipher.getAuthTag()];
}
