import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TokenBucket } from '../../../src/limits/token-bucket';
import { HashThread } from '../../../src/media/streams/hash-thread';
import { Hasher } from '../../../src/media/streams/hasher';
import { SizeGuard } from '../../../src/media/streams/size-guard';
import { Sniffer } from '../../../src/media/streams/sniffer';
import { Throttle } from '../../../src/media/streams/throttle';
import { fixture } from '../../support/http';

/** Runs `chunks` through `transforms`; resolves with what came out. */
async function through(chunks: Buffer[], ...transforms: NodeJS.ReadWriteStream[]): Promise<Buffer> {
  const out: Buffer[] = [];
  const sink = new Writable({ write: (chunk, _enc, done) => (out.push(chunk), done()) });
  await pipeline([Readable.from(chunks), ...transforms, sink] as never);
  return Buffer.concat(out);
}

const chunksOf = (data: Buffer, size: number) =>
  Array.from({ length: Math.ceil(data.length / size) }, (_, i) => data.subarray(i * size, (i + 1) * size));

describe('TokenBucket', () => {
  let now = 0;
  const clock = () => now;
  beforeEach(() => (now = 0));

  it('take() goes into debt and says how long to wait', () => {
    const bucket = new TokenBucket(100, 100, clock);
    expect(bucket.take(100)).toBe(0);
    expect(bucket.take(50)).toBe(500);
    now = 500;
    expect(bucket.take(0)).toBe(0);
  });

  it('tryTake() takes only what is there', () => {
    const bucket = new TokenBucket(2, 1, clock);
    expect(bucket.tryTake(1)).toBe(0);
    expect(bucket.tryTake(1)).toBe(0);
    expect(bucket.tryTake(1)).toBe(1000);
    now = 500;
    expect(bucket.tryTake(1)).toBe(500);
    now = 1000;
    expect(bucket.tryTake(1)).toBe(0);
  });

  it('never holds more than its capacity, and knows when it is full', () => {
    const bucket = new TokenBucket(10, 10, clock);
    expect(bucket.isFull()).toBe(true);
    bucket.take(5);
    expect(bucket.isFull()).toBe(false);
    now = 100_000;
    expect(bucket.isFull()).toBe(true);
    expect(bucket.tryTake(11)).toBeGreaterThan(0);
  });
});

describe('stream transforms', () => {
  const jpeg = fixture('jpeg-exif-gps-nikon-d2h.jpg');

  it('Hasher passes bytes through and digests them in the same pass', async () => {
    const hasher = new Hasher(['sha256', 'md5']);
    expect((await through(chunksOf(jpeg, 1000), hasher)).equals(jpeg)).toBe(true);
    expect(hasher.digest('sha256')).toBe(createHash('sha256').update(jpeg).digest('hex'));
    expect(hasher.digest('md5')).toBe(createHash('md5').update(jpeg).digest('hex'));
  });

  it('Hasher on the hash thread gives the same digests, for every size around its batch, many streams at once', async () => {
    const thread = new HashThread();
    const data = Buffer.from(Array.from({ length: 5 * 1024 * 1024 + 7 }, (_, i) => (i * 31 + (i >> 9)) & 0xff));
    const sizes = [0, 1, 256 * 1024 - 1, 256 * 1024, 256 * 1024 + 1, data.length];
    await Promise.all(
      sizes.map(async (size, i) => {
        const bytes = data.subarray(0, size);
        const hasher = new Hasher(['sha256', 'md5'], thread);
        expect((await through(chunksOf(bytes, 1000 + i * 7919), hasher)).equals(bytes)).toBe(true);
        expect(hasher.bytes).toBe(size);
        expect(hasher.digest('sha256')).toBe(createHash('sha256').update(bytes).digest('hex'));
        expect(hasher.digest('md5')).toBe(createHash('md5').update(bytes).digest('hex'));
      }),
    );
    await thread.close();
  });

  it('Hasher on the hash thread: a stream torn down midway fails cleanly and the thread serves the next one', async () => {
    const thread = new HashThread();
    const torn = new Hasher(['sha256'], thread);
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(300_000, 1));
        this.destroy(new Error('client went away'));
      },
    });
    await expect(pipeline(failing, torn, new Writable({ write: (_c, _e, done) => done() }))).rejects.toThrow(
      'client went away',
    );
    const next = new Hasher(['sha256'], thread);
    await through([Buffer.from('hello')], next);
    expect(next.digest('sha256')).toBe(createHash('sha256').update('hello').digest('hex'));
    await thread.close();
  });

  it('HashThread.close() ends its thread: a stream still waiting fails, a later one starts a new thread', async () => {
    const threads = () => readdirSync('/proc/self/task').length; // this process's OS threads
    const thread = new HashThread();
    const first = new Hasher(['sha256'], thread);
    await through([Buffer.alloc(300_000, 2)], first);
    const running = threads();
    const waiting = new Hasher(['sha256'], thread);
    const input = new Readable({ read() {} });
    let passed!: () => void;
    const batchSent = new Promise<void>((resolve) => (passed = resolve));
    // More than a batch: by the time it passes through, the stream has handed a batch to the thread.
    input.push(Buffer.alloc(300_000, 3));
    const stopped = pipeline(input, waiting, new Writable({ write: (_c, _e, done) => (passed(), done()) }));
    await batchSent;
    await thread.close();
    input.push(null);
    await expect(stopped).rejects.toThrow('the hash thread was stopped');
    expect(threads()).toBe(running - 1);
    const later = new Hasher(['sha256'], thread);
    await through([Buffer.from('again')], later);
    expect(later.digest('sha256')).toBe(createHash('sha256').update('again').digest('hex'));
    expect(threads()).toBe(running);
    await thread.close();
    expect(threads()).toBe(running - 1);
  });

  it('SizeGuard fails on the first chunk past the limit and reports progress', async () => {
    const seen: number[] = [];
    const guard = new SizeGuard({
      limit: () => 2500,
      tooLarge: () => new Error('too large'),
      onProgress: (total) => seen.push(total),
    });
    await expect(through(chunksOf(Buffer.alloc(4000), 1000), guard)).rejects.toThrow('too large');
    expect(seen).toEqual([1000, 2000]);
    const ok = new SizeGuard({ limit: () => 4000, tooLarge: () => new Error('too large') });
    await through(chunksOf(Buffer.alloc(4000), 1000), ok);
    expect(ok.total).toBe(4000);
  });

  it('SizeGuard fails the stream when progress throws (a quota refusal)', async () => {
    const guard = new SizeGuard({
      limit: () => Infinity,
      tooLarge: () => new Error('x'),
      onProgress: () => {
        throw new Error('refused');
      },
    });
    await expect(through([Buffer.alloc(10)], guard)).rejects.toThrow('refused');
  });

  it('Sniffer holds the head back until it knows the type, then passes everything', async () => {
    const sniffer = new Sniffer();
    expect((await through(chunksOf(jpeg, 100), sniffer)).equals(jpeg)).toBe(true);
    expect(sniffer.result).toMatchObject({ kind: 'format', format: { mime: 'image/jpeg' } });
    const small = new Sniffer();
    await through([Buffer.from('just a short note\n')], small);
    expect(small.result?.kind).toBe('text');
  });

  it('Sniffer refuses unsupported bytes before passing any on', async () => {
    const out: Buffer[] = [];
    const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.alloc(10_000)]);
    const sink = new Writable({ write: (chunk, _enc, done) => (out.push(chunk), done()) });
    await expect(pipeline(Readable.from(chunksOf(elf, 1000)), new Sniffer(), sink)).rejects.toMatchObject({
      code: 'UNSUPPORTED_MEDIA_TYPE',
    });
    expect(out).toEqual([]);
  });

  it('Throttle delays chunks by what it is told', async () => {
    const waits = [0, 80, 0];
    const started = Date.now();
    const data = await through(
      [Buffer.from('a'), Buffer.from('b'), Buffer.from('c')],
      new Throttle(() => waits.shift() ?? 0),
    );
    expect(data.toString()).toBe('abc');
    expect(Date.now() - started).toBeGreaterThanOrEqual(75);
  });
});
