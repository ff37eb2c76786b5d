import { Transform, type TransformCallback } from 'node:stream';

export interface MinRateOptions {
  /** The least that must arrive in each window. */
  minBytes: number;
  /** The window, in milliseconds of waiting for bytes (time held up by backpressure does not count). */
  windowMs: number;
  /** The error the stream fails with. */
  tooSlow: () => Error;
  /** How often the clock is read; defaults to a thirtieth of the window. */
  tickMs?: number;
}

/**
 * Passes bytes through and fails the stream when fewer than `minBytes` arrive in a window
 * of `windowMs` (slowloris bodies). Only time spent waiting for the source counts: while
 * what is downstream holds the stream up (a throttle, a slow disk), the clock stops; once
 * the source has ended, it stops for good.
 */
export class MinRate extends Transform {
  private bytes = 0;
  private waitedMs = 0;
  private lastTick = performance.now();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly options: MinRateOptions) {
    super();
    const tickMs = options.tickMs ?? Math.max(1, Math.floor(options.windowMs / 30));
    this.timer = setInterval(() => this.tick(2 * tickMs), tickMs).unref();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    done(null, chunk);
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    clearInterval(this.timer);
    done(error);
  }

  /** Held up by downstream: a chunk is waiting to be taken, or the output buffer is full. */
  private get heldUp(): boolean {
    return this.writableLength > 0 || this.readableLength >= this.readableHighWaterMark;
  }

  /** `maxMs`: a tick late because the process was busy counts no more than this (its reads were late too). */
  private tick(maxMs: number): void {
    const now = performance.now();
    const ms = Math.min(now - this.lastTick, maxMs);
    this.lastTick = now;
    if (this.writableEnded) return void clearInterval(this.timer); // everything has arrived
    if (this.heldUp) return;
    this.waitedMs += ms;
    if (this.waitedMs < this.options.windowMs) return;
    if (this.bytes < this.options.minBytes) return void this.destroy(this.options.tooSlow());
    this.bytes = 0;
    this.waitedMs = 0;
  }
}
