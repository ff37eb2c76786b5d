import { close, open, writev } from 'node:fs';
import { Writable } from 'node:stream';

/** How much a sink gathers before it writes: an upload's 64 KiB chunks go out 16 at a time. */
const BATCH_BYTES = 1024 * 1024;

/**
 * A new private file (0600, refused if it exists) written in batches of about 1 MiB, one
 * writev each, where a file stream writes every chunk on its own: each write is a trip to
 * libuv's thread pool, and on a busy machine those trips cost the main thread more than the
 * copying. Nothing is fsynced here: whoever keeps the file does that (LocalBlobStore.putFile).
 */
export class BatchedFileSink extends Writable {
  private fd?: number;
  private batch: Buffer[] = [];
  private batchBytes = 0;

  constructor(readonly path: string) {
    super();
  }

  override _construct(done: (error?: Error | null) => void): void {
    open(this.path, 'wx', 0o600, (error, fd) => {
      this.fd = fd;
      done(error);
    });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.batch.push(chunk);
    this.batchBytes += chunk.length;
    if (this.batchBytes < BATCH_BYTES) return done();
    this.writeBatch(done);
  }

  override _final(done: (error?: Error | null) => void): void {
    this.writeBatch(done);
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    if (this.fd === undefined) return done(error);
    close(this.fd, () => done(error));
  }

  private writeBatch(done: (error?: Error | null) => void): void {
    const buffers = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    writeAll(this.fd as number, buffers, done);
  }
}

/** Writes every byte of `buffers` at the file's position, going on after a short write. */
function writeAll(fd: number, buffers: Buffer[], done: (error?: Error | null) => void): void {
  if (buffers.length === 0) return done();
  writev(fd, buffers, (error, written) => {
    if (error) return done(error);
    const left: Buffer[] = [];
    for (const buffer of buffers) {
      if (written >= buffer.length) written -= buffer.length;
      else {
        left.push(buffer.subarray(written));
        written = 0;
      }
    }
    writeAll(fd, left, done);
  });
}
