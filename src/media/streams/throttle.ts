import { Transform, type TransformCallback } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

/** Delays chunks by what `wait(bytes)` says (milliseconds), slowing the sender through backpressure. */
export class Throttle extends Transform {
  constructor(private readonly wait: (bytes: number) => number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const ms = this.wait(chunk.length);
    if (ms <= 0) return done(null, chunk);
    sleep(ms).then(() => done(null, chunk), done);
  }
}
