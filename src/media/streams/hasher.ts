import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/** Computes several digests of the bytes passing through, in the same pass. */
export class Hasher extends Transform {
  private readonly hashes: Map<string, Hash>;
  private digests?: Record<string, string>;
  /** Bytes seen so far. */
  bytes = 0;

  constructor(algorithms: string[]) {
    super();
    this.hashes = new Map(algorithms.map((a) => [a, createHash(a)]));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    for (const hash of this.hashes.values()) hash.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    this.digests = Object.fromEntries([...this.hashes].map(([name, hash]) => [name, hash.digest('hex')]));
    done();
  }

  /** Hex digests by algorithm; available once the stream has ended. */
  digest(algorithm: string): string {
    if (!this.digests) throw new Error('Hasher: stream has not ended');
    return this.digests[algorithm];
  }
}
