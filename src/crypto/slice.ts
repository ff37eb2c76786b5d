import { Transform, type TransformCallback } from 'node:stream';

/** Drops the first `skip` bytes, passes the next `take`, and drops the rest. */
export class Slice extends Transform {
  constructor(
    private skip: number,
    private keep: number,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    let part = chunk;
    if (this.skip > 0) {
      const dropped = Math.min(this.skip, part.length);
      part = part.subarray(dropped);
      this.skip -= dropped;
    }
    if (this.keep > 0 && part.length > 0) {
      const kept = part.subarray(0, this.keep);
      this.keep -= kept.length;
      return done(null, kept);
    }
    done();
  }
}
