import { Transform, type TransformCallback } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

/** Delays chunks by what `wait(bytes)` says (milliseconds), slowing the sender through backpressure. */
export class Throttle extends Transform {
  constructor(private readonly wait: (bytes: number) => number | Promise<number>) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const ms = this.wait(chunk.length);
    if (typeof ms === 'number') {
      if (ms <= 0) return done(null, chunk);
      sleep(ms).then(() => done(null, chunk), done);
      return;
    }
    ms.then((wait) => (wait > 0 ? sleep(wait) : undefined)).then(() => done(null, chunk), done);
  }
}
