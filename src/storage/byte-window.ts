import { Transform, type TransformCallback } from 'node:stream';

/**
 * Passes on only bytes [start, start + length) of what goes through it. For a
 * store (or a proxy before it) that ignores a Range and sends the whole object: the
 * service never passes on bytes outside the range asked for.
 */
export class ByteWindow extends Transform {
  private position = 0;

  constructor(
    private readonly start: number,
    private readonly length: number,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const from = Math.max(0, this.start - this.position);
    const to = Math.min(chunk.length, this.start + this.length - this.position);
    this.position += chunk.length;
    if (to > from) this.push(chunk.subarray(from, to)); // past the window: read and dropped
    callback();
  }
}
