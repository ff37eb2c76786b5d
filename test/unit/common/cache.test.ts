import { approximateBytes, boundedCache } from '../../../src/common/cache';

/** A clock the test moves by hand. */
function manualClock() {
  let now = 1_000_000;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('boundedCache', () => {
  it('keeps at most `max` entries, dropping the least recently used', () => {
    const cache = boundedCache<string, number>({ max: 3 });
    cache.set('a', 1).set('b', 2).set('c', 3);
    expect(cache.get('a')).toBe(1); // a is now the most recent: b is the oldest
    cache.set('d', 4);
    expect(cache.size).toBe(3);
    expect(cache.get('b')).toBeUndefined();
    expect([cache.get('a'), cache.get('c'), cache.get('d')]).toEqual([1, 3, 4]);
    for (let i = 0; i < 10_000; i++) cache.set(`k${i}`, i);
    expect(cache.size).toBe(3);
  });

  it('keeps at most `maxBytes` as sizeOf counts them, and never an entry larger than that', () => {
    const cache = boundedCache<string, Buffer>({ max: 1000, maxBytes: 100, sizeOf: (value) => value.length });
    cache.set('a', Buffer.alloc(40)).set('b', Buffer.alloc(40));
    expect(cache.calculatedSize).toBe(80);
    cache.set('c', Buffer.alloc(40)); // 120 > 100: a goes
    expect(cache.has('a')).toBe(false);
    expect([cache.has('b'), cache.has('c')]).toEqual([true, true]);
    expect(cache.calculatedSize).toBe(80);
    cache.set('huge', Buffer.alloc(101));
    expect(cache.has('huge')).toBe(false);
    expect(cache.calculatedSize).toBeLessThanOrEqual(100);
    // Many small entries: bounded by bytes long before the entry limit.
    for (let i = 0; i < 1000; i++) cache.set(`s${i}`, Buffer.alloc(10));
    expect(cache.size).toBe(10);
    // A zero-length value still counts (lru-cache refuses sizes below 1).
    cache.set('empty', Buffer.alloc(0));
    expect(cache.get('empty')).toEqual(Buffer.alloc(0));
  });

  it('counts bytes with approximateBytes by default: bigger values, fewer entries', () => {
    const small = boundedCache<string, object>({ max: 10_000, maxBytes: 64 * 1024 });
    const large = boundedCache<string, object>({ max: 10_000, maxBytes: 64 * 1024 });
    for (let i = 0; i < 10_000; i++) {
      small.set(`k${i}`, { n: i });
      large.set(`k${i}`, { n: i, text: 'x'.repeat(1000) });
    }
    expect(large.size).toBeLessThan(64);
    expect(small.size).toBeGreaterThan(large.size * 3);
    expect(large.calculatedSize).toBeLessThanOrEqual(64 * 1024);
  });

  it('forgets an entry after `ttl`', () => {
    const clock = manualClock();
    const cache = boundedCache<string, string>({ max: 10, ttl: 1000, clock });
    cache.set('a', 'A');
    clock.advance(999);
    expect(cache.get('a')).toBe('A');
    clock.advance(2);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.has('a')).toBe(false);
  });

  it('gives each entry the lifetime ttlOf answers, and keeps none that has no time left', () => {
    const clock = manualClock();
    const cache = boundedCache<string, { expiresAt: number }>({
      max: 10,
      ttlOf: (v) => v.expiresAt - clock.now(),
      clock,
    });
    cache.set('short', { expiresAt: clock.now() + 100 });
    cache.set('long', { expiresAt: clock.now() + 10_000 });
    cache.set('expired', { expiresAt: clock.now() - 1 });
    cache.set('now', { expiresAt: clock.now() });
    expect([cache.has('short'), cache.has('long'), cache.has('expired'), cache.has('now')]).toEqual([
      true,
      true,
      false,
      false,
    ]);
    clock.advance(101);
    expect(cache.get('short')).toBeUndefined();
    expect(cache.get('long')).toEqual({ expiresAt: expect.any(Number) });
    clock.advance(10_000);
    expect(cache.get('long')).toBeUndefined();
    // Setting an expired value over a live one removes the live one.
    cache.set('k', { expiresAt: clock.now() + 100 });
    cache.set('k', { expiresAt: clock.now() - 1 });
    expect(cache.has('k')).toBe(false);
  });

  it('with ownBuffers, keeps a copy of a Buffer that is a view of a larger memory, not the memory', () => {
    const cache = boundedCache<string, Buffer>({ max: 10, ownBuffers: true });
    const pooled = Buffer.from([1, 2, 3, 4]); // from Node's shared 8 KiB pool
    expect(pooled.buffer.byteLength).toBeGreaterThan(pooled.length);
    cache.set('pooled', pooled);
    const kept = cache.get('pooled')!;
    expect(kept).toEqual(pooled);
    expect(kept.buffer.byteLength).toBe(4);
    const own = Buffer.allocUnsafeSlow(4);
    cache.set('own', own);
    expect(cache.get('own')).toBe(own); // already its own memory: kept as is
  });

  it('supports what its users call: delete and clear', () => {
    const cache = boundedCache<string, number>({ max: 10, maxBytes: 10_000 });
    cache.set('a', 1).set('b', 2);
    cache.delete('a');
    expect(cache.get('a')).toBeUndefined();
    cache.clear();
    expect(cache.size).toBe(0);
    expect(cache.calculatedSize).toBe(0);
  });

  it('refuses a cache without an entry limit', () => {
    expect(() => boundedCache({ max: 0 })).toThrow(/max/);
  });
});

describe('approximateBytes', () => {
  it('counts strings, buffers and nested members, errs high, and survives cycles', () => {
    expect(approximateBytes('x'.repeat(1000))).toBeGreaterThanOrEqual(1000);
    expect(approximateBytes('€'.repeat(1000))).toBeGreaterThanOrEqual(2000);
    expect(approximateBytes(Buffer.alloc(5000))).toBeGreaterThanOrEqual(5000);
    const row = {
      id: 'a'.repeat(36),
      metadata: { exif: { note: 'y'.repeat(4000) } },
      previews: [{ blobKey: 'b'.repeat(40) }],
      size: 10n,
      at: new Date(),
    };
    expect(approximateBytes(row)).toBeGreaterThan(4000 + 36 + 40);
    const cyclic: Record<string, unknown> = { name: 'c' };
    cyclic.self = cyclic;
    expect(approximateBytes(cyclic)).toBeGreaterThan(0);
  });
});
