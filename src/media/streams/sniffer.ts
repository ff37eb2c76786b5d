import { Transform, type TransformCallback } from 'node:stream';
import { type Sniffed, SNIFF_BYTES, sniff } from '../../detection/detect-type.js';

/**
 * Holds back the first bytes until the sniffer has classified them, so unsupported content
 * is refused before the rest of the upload is read; then passes everything through,
 * feeding a text candidate's checker as it goes.
 */
export class Sniffer extends Transform {
  result?: Sniffed;
  private head: Buffer[] = [];
  private headBytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.result) return this.forward(chunk, done);
    this.head.push(chunk);
    this.headBytes += chunk.length;
    if (this.headBytes < SNIFF_BYTES) return done();
    this.decide(done);
  }

  override _flush(done: TransformCallback): void {
    if (this.result) return done();
    this.decide(done);
  }

  private decide(done: TransformCallback): void {
    const head = Buffer.concat(this.head);
    this.head = [];
    sniff(head).then((result) => {
      this.result = result;
      this.forward(head, done);
    }, done);
  }

  private forward(chunk: Buffer, done: TransformCallback): void {
    if (this.result?.kind === 'text') this.result.checker.push(chunk);
    else if (this.result?.kind === 'format') this.result.text?.push(chunk);
    done(null, chunk);
  }
}
