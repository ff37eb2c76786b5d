import { once } from 'node:events';
import { PassThrough, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Sniffed } from '../../detection/detect-type.js';
import type { Hasher } from '../streams/hasher.js';
import { Sniffer } from '../streams/sniffer.js';

/** What the pipeline proves of a whole file's bytes: its digests and its sniffed type. */
export interface Digests {
  sha256: string;
  md5: string;
  sniffed: Sniffed;
}

/**
 * An upload's digests and type, taken as its PATCHes arrive in this process (the hash on the
 * hash thread, as for a multipart upload), so the completing PATCH need not read the file
 * again. `offset` is how many bytes it has seen; it is only good while that is the upload's
 * offset — after a restart, or a PATCH served elsewhere, the file is read once instead.
 */
export class LiveDigest {
  offset = 0;
  private readonly sniffer = new Sniffer();
  private readonly input = new PassThrough();
  private readonly done: Promise<void>;

  constructor(private readonly hasher: Hasher) {
    this.done = pipeline(
      this.input,
      this.sniffer,
      hasher,
      new Writable({ write: (_chunk, _encoding, next) => next() }),
    );
    this.done.catch(() => {}); // seen by write() and finish()
  }

  /** Passes `source` on, each chunk also seen here. */
  async *tap(source: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
    for await (const chunk of source) {
      if (!this.input.write(chunk)) await Promise.race([once(this.input, 'drain'), this.done]);
      this.offset += chunk.length;
      yield chunk;
    }
  }

  async finish(): Promise<Digests> {
    this.input.end();
    await this.done;
    return {
      sha256: this.hasher.digest('sha256'),
      md5: this.hasher.digest('md5'),
      sniffed: this.sniffer.result as Sniffed,
    };
  }

  abandon(): void {
    this.input.destroy();
  }
}
