import { MemoryLimiter } from '../../../src/limits/memory-limiter';

/** A clock the test moves by hand: limits that depend on time are checked without waiting. */
function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe('MemoryLimiter', () => {
  const settings = { requestsPerMinute: 60, uploadConcurrency: 2, uploadBytesPerSecond: 1000 };

  it.each([
    ['the first 60 requests of a minute pass, the 61st waits a second', 60, 0, 1],
    ['after half a minute, 30 more pass', 90, 30_000, 1],
    ['a user idle for a minute has the whole minute again', 120, 60_000, 1],
  ])('%s', async (_label, requests, advanceAfterFirst60, retryAfter) => {
    const time = clock();
    const limiter = new MemoryLimiter(settings, time.now);
    const answers: number[] = [];
    for (let i = 0; i < requests; i++) {
      if (i === 60) time.advance(advanceAfterFirst60);
      answers.push(await limiter.hit('u'));
    }
    expect(answers.every((wait) => wait === 0)).toBe(true);
    expect(await limiter.hit('u')).toBe(retryAfter);
  });

  it('counts each user apart', async () => {
    const limiter = new MemoryLimiter({ ...settings, requestsPerMinute: 1 }, clock().now);
    expect([await limiter.hit('a'), await limiter.hit('b'), await limiter.hit('a')]).toEqual([0, 0, 60]);
  });

  it('hands out at most uploadConcurrency slots per user and takes each back once', async () => {
    const limiter = new MemoryLimiter(settings, clock().now);
    const first = await limiter.acquireUpload('u');
    const second = await limiter.acquireUpload('u');
    expect(await limiter.acquireUpload('u')).toBeNull();
    expect(await limiter.acquireUpload('other')).not.toBeNull();
    first!();
    first!(); // twice: still one slot back, not two
    expect(await limiter.acquireUpload('u')).not.toBeNull();
    expect(await limiter.acquireUpload('u')).toBeNull();
    second!();
  });

  it.each([
    ['within the one-second burst: no wait', [1000], 0, 0],
    ['a second beyond the burst waits a second', [1000, 1000], 0, 1000],
    ['the debt is paid by time', [1000, 1000], 500, 500],
    ['half a second of bytes over the burst', [1500], 0, 500],
  ])('throttle: %s', async (_label, chunks, advanceBeforeLast, lastWait) => {
    const time = clock();
    const limiter = new MemoryLimiter(settings, time.now);
    let wait = 0;
    for (const [i, bytes] of chunks.entries()) {
      if (i === chunks.length - 1) time.advance(advanceBeforeLast);
      wait = await limiter.throttle('u', bytes);
    }
    expect(wait).toBe(lastWait);
  });
});
