import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { HASH_BATCH, type HashThread, type ThreadedDigest } from './hash-thread.js';

/** How many bytes may wait on the hash thread before the stream pauses. */
const MAX_IN_FLIGHT = 2 * 1024 * 1024;

/**
 * Computes several digests of the bytes passing through, in the same pass: on this thread,
 * or, given a `HashThread`, on that one (the bytes are copied into batches that are handed
 * over; the stream pauses while more than 2 MiB wait to be hashed).
 */
export class Hasher extends Transform {
  private readonly hashes?: Hash[];
  private readonly thread?: HashThread;
  private readonly threaded?: ThreadedDigest;
  private batch?: Buffer;
  private filled = 0;
  private digests?: Record<string, string>;
  /** Bytes seen so far. */
  bytes = 0;

  constructor(
    private readonly algorithms: string[],
    thread?: HashThread,
  ) {
    super();
    this.thread = thread;
    if (thread) this.threaded = thread.open(algorithms);
    else this.hashes = algorithms.map((a) => createHash(a));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (!this.threaded) {
      for (const hash of this.hashes!) hash.update(chunk);
      return done(null, chunk);
    }
    for (let at = 0; at < chunk.length;) {
      this.batch ??= this.thread!.batch();
      const copied = chunk.copy(this.batch, this.filled, at);
      this.filled += copied;
      at += copied;
      if (this.filled === HASH_BATCH) this.sendBatch();
    }
    this.push(chunk);
    if (this.threaded.waiting <= MAX_IN_FLIGHT) return done();
    this.threaded.drainedTo(MAX_IN_FLIGHT).then(() => done(), done);
  }

  override _flush(done: TransformCallback): void {
    if (!this.threaded)
      return this.finish(
        this.hashes!.map((h) => h.digest('hex')),
        done,
      );
    if (this.filled > 0) this.sendBatch();
    this.threaded.end().then((digests) => this.finish(digests, done), done);
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    if (!this.digests) this.threaded?.drop();
    done(error);
  }

  /** Hex digests by algorithm; available once the stream has ended. */
  digest(algorithm: string): string {
    if (!this.digests) throw new Error('Hasher: stream has not ended');
    return this.digests[algorithm];
  }

  private sendBatch(): void {
    this.threaded!.send(this.batch!, this.filled);
    this.batch = undefined;
    this.filled = 0;
  }

  private finish(digests: string[], done: TransformCallback): void {
    this.digests = Object.fromEntries(this.algorithms.map((a, i) => [a, digests[i]]));
    done();
  }
}
