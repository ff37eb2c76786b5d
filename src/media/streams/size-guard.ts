import { Transform, type TransformCallback } from 'node:stream';

export interface SizeGuardOptions {
  /** The current limit; it may shrink once the type is known. */
  limit: () => number;
  /** Thrown when the limit is passed. */
  tooLarge: () => Error;
  /** Told the running total as bytes pass (e.g. to grow a quota reservation); a throw fails the stream. */
  onProgress?: (total: number) => void;
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
    try {
      this.options.onProgress?.(this.total);
    } catch (error) {
      return done(error as Error);
    }
    done(null, chunk);
  }
}
