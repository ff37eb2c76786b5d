import { Transform, type TransformCallback } from 'node:stream';

export interface SizeGuardOptions {
  /** The current limit; it may shrink once the type is known. */
  limit: () => number;
  /** Thrown when the limit is passed. */
  tooLarge: () => Error;
  /** Awaited as bytes pass (e.g. to grow a quota reservation); a rejection fails the stream. */
  onProgress?: (total: number) => Promise<void>;
}

/** Counts bytes and fails the stream on the first chunk past the limit. */
export class SizeGuard extends Transform {
  total = 0;

  constructor(private readonly options: SizeGuardOptions) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.total += chunk.length;
    if (this.total > this.options.limit()) return done(this.options.tooLarge());
    if (!this.options.onProgress) return done(null, chunk);
    this.options.onProgress(this.total).then(() => done(null, chunk), done);
  }
}
