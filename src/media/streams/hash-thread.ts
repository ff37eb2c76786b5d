import { Worker } from 'node:worker_threads';

/**
 * One worker thread per process that computes digests for many streams at once, so the
 * SHA-256 and MD5 of an upload run on the second core while the main thread receives,
 * seals and writes it. Bytes go over in batches whose memory is transferred, not copied
 * again; each batch comes back with its acknowledgement, to be filled again (no allocation
 * in the steady state), and a stream can wait when too much is in flight.
 * The worker is plain JavaScript given as source: it runs the same from src/ under the
 * tests and from dist/.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const streams = new Map();
parentPort.on('message', (m) => {
  if (m.op === 'open') streams.set(m.id, m.algorithms.map((a) => createHash(a)));
  else if (m.op === 'data') {
    for (const hash of streams.get(m.id) ?? []) hash.update(new Uint8Array(m.buffer, 0, m.length));
    parentPort.postMessage({ op: 'ack', id: m.id, length: m.length, buffer: m.buffer }, [m.buffer]);
  } else if (m.op === 'end') {
    const hashes = streams.get(m.id) ?? [];
    streams.delete(m.id);
    parentPort.postMessage({ op: 'digests', id: m.id, digests: hashes.map((h) => h.digest('hex')) });
  } else if (m.op === 'drop') streams.delete(m.id);
});`;

type Reply =
  { op: 'ack'; id: number; length: number; buffer: ArrayBuffer } | { op: 'digests'; id: number; digests: string[] };

/** Size of the batches handed to the thread, and how many spare ones are kept for reuse. */
export const HASH_BATCH = 256 * 1024;
const SPARE_BATCHES = 32;

/** One stream's digests being computed on the hash thread. */
export class ThreadedDigest {
  /** Told to the thread on the first batch or the end: a digest made and never used (its upload failed first) leaves nothing behind. */
  private opened = false;
  private inFlight = 0;
  private waiter?: { below: number; resolve: () => void; reject: (error: Error) => void };
  private result?: { resolve: (digests: string[]) => void; reject: (error: Error) => void };
  private failure?: Error;

  constructor(
    private readonly thread: HashThread,
    readonly id: number,
    private readonly algorithms: string[],
  ) {}

  /** Hands `buffer`'s first `length` bytes to the thread; the buffer must not be used again. */
  send(buffer: Buffer, length: number): void {
    if (this.failure) throw this.failure;
    this.open();
    this.inFlight += length;
    this.thread.post({ op: 'data', id: this.id, buffer: buffer.buffer, length }, [buffer.buffer as ArrayBuffer]);
  }

  /** Bytes sent and not yet hashed. */
  get waiting(): number {
    return this.inFlight;
  }

  /** Resolves once no more than `bytes` are waiting to be hashed. */
  async drainedTo(bytes: number): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.inFlight <= bytes) return;
    await new Promise<void>((resolve, reject) => (this.waiter = { below: bytes, resolve, reject }));
  }

  /** The hex digests, in the order of the algorithms, once every byte sent is hashed. */
  end(): Promise<string[]> {
    if (this.failure) return Promise.reject(this.failure);
    this.open();
    return new Promise((resolve, reject) => {
      this.result = { resolve, reject };
      this.thread.post({ op: 'end', id: this.id });
    });
  }

  /** Forgets the stream (it was torn down). */
  drop(): void {
    if (this.opened) this.thread.forget(this.id, { op: 'drop', id: this.id });
  }

  private open(): void {
    if (this.opened) return;
    this.opened = true;
    this.thread.register(this, this.algorithms);
  }

  /** @internal the thread's answers */
  receive(reply: Reply): void {
    if (reply.op === 'ack') {
      this.thread.recycle(reply.buffer);
      this.inFlight -= reply.length;
      if (this.waiter && this.inFlight <= this.waiter.below) {
        this.waiter.resolve();
        this.waiter = undefined;
      }
    } else {
      this.thread.forget(this.id);
      this.result?.resolve(reply.digests);
    }
  }

  /** @internal the thread died: nothing of this stream can be trusted */
  fail(error: Error): void {
    this.failure = error;
    this.waiter?.reject(error);
    this.result?.reject(error);
  }
}

export class HashThread {
  private worker?: Worker;
  private readonly spare: ArrayBuffer[] = [];
  private readonly streams = new Map<number, ThreadedDigest>();
  private nextId = 1;

  /** A stream's digests; the thread hears of it with its first batch (or its end). */
  open(algorithms: string[]): ThreadedDigest {
    return new ThreadedDigest(this, this.nextId++, algorithms);
  }

  /** @internal a stream's first batch or end is coming */
  register(digest: ThreadedDigest, algorithms: string[]): void {
    this.streams.set(digest.id, digest);
    this.post({ op: 'open', id: digest.id, algorithms });
    this.worker?.ref(); // a stream waiting for its digests keeps the process alive
  }

  /** An empty batch to fill and `send`. */
  batch(): Buffer {
    const buffer = this.spare.pop();
    return buffer ? Buffer.from(buffer) : Buffer.allocUnsafeSlow(HASH_BATCH);
  }

  /** @internal a batch the thread is done with */
  recycle(buffer: ArrayBuffer): void {
    if (this.spare.length < SPARE_BATCHES) this.spare.push(buffer);
  }

  /** @internal */
  post(message: object, transfer: ArrayBuffer[] = []): void {
    this.start().postMessage(message, transfer);
  }

  /** @internal */
  forget(id: number, message?: object): void {
    this.streams.delete(id);
    if (message && this.worker) this.worker.postMessage(message);
    if (this.streams.size === 0) this.worker?.unref();
  }

  /** Ends the thread (the app is closing): a stream still waiting for its digests fails; a later one starts a new thread. */
  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    for (const stream of this.streams.values()) stream.fail(new Error('the hash thread was stopped'));
    this.streams.clear();
    await worker.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true, name: 'media-hash' });
    worker.on('message', (reply: Reply) => this.streams.get(reply.id)?.receive(reply));
    const died = (error: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      for (const stream of this.streams.values()) stream.fail(error);
      this.streams.clear();
    };
    worker.on('error', died);
    worker.on('exit', (code) => died(new Error(`the hash thread exited (${code})`)));
    worker.unref(); // after the listeners, which ref it; only open streams hold the process (see open/forget)
    this.worker = worker;
    return worker;
  }
}
