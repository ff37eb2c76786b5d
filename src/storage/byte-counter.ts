import { Transform, type TransformCallback } from 'node:stream';

/** A pass-through that counts what goes through it: the size a put reports, without asking the store again. */
export class ByteCounter extends Transform {
  bytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    callback(null, chunk);
  }
}
