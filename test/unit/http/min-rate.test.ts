import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { MinRate } from '../../../src/media/streams/min-rate';
import { Throttle } from '../../../src/media/streams/throttle';

const KB = 1024;
const tooSlow = () => new Error('too slow');
/** 1 KiB every `everyMs`, `count` times (forever when omitted). */
const trickle = (everyMs: number, count = Infinity) =>
  Readable.from(
    (async function* () {
      for (let i = 0; i < count; i++) {
        yield Buffer.alloc(KB, i);
        await sleep(everyMs);
      }
    })(),
  );
/** Reads everything, each chunk taking `ms`. */
const sink = (ms = 0, into: Buffer[] = []) =>
  new Writable({ highWaterMark: KB, write: (chunk: Buffer, _enc, done) => (into.push(chunk), setTimeout(done, ms)) });

describe('MinRate', () => {
  it('passes a body arriving fast enough through unchanged', async () => {
    const out: Buffer[] = [];
    await pipeline(
      trickle(10, 60),
      new MinRate({ minBytes: 4 * KB, windowMs: 200, tickMs: 10, tooSlow }),
      sink(0, out),
    );
    expect(Buffer.concat(out)).toEqual(Buffer.concat(Array.from({ length: 60 }, (_, i) => Buffer.alloc(KB, i))));
  });

  it('fails a body crawling below the rate within about one window', async () => {
    const started = Date.now();
    await expect(
      pipeline(trickle(100), new MinRate({ minBytes: 4 * KB, windowMs: 300, tickMs: 10, tooSlow }), sink()),
    ).rejects.toThrow('too slow');
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
  });

  it('fails a source that sends nothing at all', async () => {
    const silent = new Readable({ read() {} });
    await expect(
      pipeline(silent, new MinRate({ minBytes: 1, windowMs: 100, tickMs: 10, tooSlow }), sink()),
    ).rejects.toThrow('too slow');
  });

  it('does not count time held up by a throttle downstream (a fast client, slowed on purpose)', async () => {
    // 1 KiB per 400 ms gets through the throttle, far below 4 KiB per 200 ms, for 1.5 s.
    const source = trickle(0);
    const rate = new MinRate({ minBytes: 4 * KB, windowMs: 200, tickMs: 10, tooSlow });
    const run = pipeline(source, rate, new Throttle(() => 400), sink());
    await sleep(1500);
    expect(rate.destroyed).toBe(false);
    source.destroy();
    await run.catch(() => {});
  });

  it('stops measuring once the source has ended, however long downstream takes', async () => {
    const rate = new MinRate({ minBytes: 64 * KB, windowMs: 100, tickMs: 10, tooSlow });
    await pipeline(trickle(0, 40), rate, sink(20));
  });
});
