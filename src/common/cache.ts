import { LRUCache } from 'lru-cache';

/**
 * Every in-process cache of the service is made here, on the kept library `lru-cache`, and
 * is bounded twice: by entries and, where entries vary in size, by bytes. The budget per
 * process. "Counted" bytes are what `sizeOf` (by default `approximateBytes` + 256 B an
 * entry) counts: an upper bound, ≈ 1.5-2× the memory really used. The caches bounded by
 * entries alone have entries of a fixed size (a UUID or an owner id of at most 128
 * characters, a 16- or 32-byte key): their bytes are as measured on Node 20.
 *
 * | cache (where)                                   | entries       | bytes                                              |
 * |-------------------------------------------------|---------------|----------------------------------------------------|
 * | verified tokens (http/auth/jwt-verifier.ts)     | 10,000        | 8 MiB counted (≈ 680 B + the token's length each)  |
 * | media rows (db/media.repository.ts)             | 5,000         | 16 MiB counted (≈ 2.7-5 KB counted a row)          |
 * | small blobs' ciphertext (media/encrypted-blobs) | 512           | 16 MiB counted (one segment each, ≤ 64 KiB)        |
 * | opened data keys (crypto/data-key.service.ts)   | 10,000        | ≈ 7.6 MiB (≈ 800 B each)                           |
 * | user keys (crypto/envelope.ts)                  | 10,000        | ≈ 6.7 MiB (≈ 700 B each)                           |
 * | salts (db/keys.repository.ts)                   | 10,000        | ≈ 4.8 MiB (≈ 500 B each)                           |
 * | grants held (db/grants.repository.ts)           | 10,000        | ≈ 2.5 MiB (≈ 250 B each, estimated)                |
 * | tokens auth-service validated (peers/auth.client) | 10,000      | 4 MiB counted; only with AUTH_GRPC_URL             |
 * | user quotas (peers/user.client.ts)              | 5,000         | ≈ 2 MiB (≈ 400 B each, estimated); only with USER_GRPC_URL |
 * | total for the life of the process               |               | ≤ 62 MiB (65 MB); ≤ 68 MiB (71 MB) with both peers |
 * | decrypted segments (crypto/plaintext-reader.ts) | 32 per reader | 2 MiB per reader, freed with it                    |
 *
 * The last one lives for one parse of one file (ZIP/OLE directories): it counts per request
 * in flight, not in the process total. Change a limit here and at its declaration together.
 */
export interface BoundedCacheOptions<K, V> {
  /** Most entries kept; the least recently used go first. */
  max: number;
  /** Most bytes kept, as `sizeOf` counts them (default: `approximateBytes`). An entry larger than this is not kept. */
  maxBytes?: number;
  /** Bytes an entry holds (key included); only used with `maxBytes`. */
  sizeOf?: (value: V, key: K) => number;
  /** Milliseconds an entry is kept at most (default: until evicted). */
  ttl?: number;
  /** Milliseconds this entry may be kept, from its value (e.g. until a token's `exp`); 0 or less: not kept. Overrides `ttl`. */
  ttlOf?: (value: V, key: K) => number;
  /**
   * A Buffer value that is a view of a larger memory (Node's shared 8 KiB pool backs every
   * small `Buffer.from`) is kept as a copy of its own: a 16-byte salt must not pin 8 KiB.
   */
  ownBuffers?: boolean;
  /** Where ttls read the time (default `performance`); for tests. */
  clock?: { now(): number };
}

/** A least-recently-used cache: `get` (refreshes recency), `set`, `delete`, `clear`, `size`, `calculatedSize`. */
export class BoundedCache<K extends NonNullable<unknown>, V extends NonNullable<unknown>> extends LRUCache<K, V> {
  private readonly ttlOf?: (value: V, key: K) => number;
  private readonly ownBuffers: boolean;

  constructor(options: BoundedCacheOptions<K, V>) {
    if (!(options.max >= 1)) throw new Error('boundedCache: max must be at least 1');
    const sizeOf =
      options.sizeOf ?? ((value: V, key: K) => ENTRY_BYTES + approximateBytes(key) + approximateBytes(value));
    super({
      max: options.max,
      ...(options.maxBytes !== undefined
        ? {
            maxSize: options.maxBytes,
            sizeCalculation: (value: V, key: K) => Math.max(1, Math.ceil(sizeOf(value, key))),
          }
        : {}),
      ...(options.ttl !== undefined ? { ttl: options.ttl } : {}),
      ...(options.clock ? { perf: options.clock, ttlResolution: 0 } : {}),
    });
    this.ttlOf = options.ttlOf;
    this.ownBuffers = options.ownBuffers ?? false;
  }

  override set(key: K, value: V | undefined, options: LRUCache.SetOptions<K, V, unknown> = {}): this {
    if (
      value !== undefined &&
      this.ownBuffers &&
      Buffer.isBuffer(value) &&
      value.byteLength < value.buffer.byteLength
    ) {
      const own = Buffer.allocUnsafeSlow(value.byteLength);
      value.copy(own);
      value = own as unknown as V;
    }
    if (value !== undefined && this.ttlOf && options.ttl === undefined) {
      const ttl = Math.floor(this.ttlOf(value, key));
      if (ttl <= 0) {
        this.delete(key);
        return this;
      }
      options = { ...options, ttl };
    }
    return super.set(key, value, options);
  }
}

/** A cache bounded by entries and, with `maxBytes`, by bytes (see the budget above). */
export function boundedCache<K extends NonNullable<unknown>, V extends NonNullable<unknown>>(
  options: BoundedCacheOptions<K, V>,
): BoundedCache<K, V> {
  return new BoundedCache<K, V>(options);
}

/** What a cache entry costs beyond its key and value (the cache's arrays, map slot, hidden classes; measured, rounded up). */
export const ENTRY_BYTES = 256;
/** A small object's or a typed array's header. */
const OBJECT_BYTES = 64;

/**
 * Roughly what `value` holds in memory, in bytes: strings by length, Buffers and typed
 * arrays by the memory they pin, objects and arrays by their members. Meant for cache
 * budgets, not accounting: it errs high. Shared objects count once.
 */
export function approximateBytes(value: unknown): number {
  const seen = new Set<object>();
  const walk = (v: unknown): number => {
    switch (typeof v) {
      case 'string':
        return 16 + v.length * (/[^\u0000-\u00ff]/.test(v) ? 2 : 1); // V8 keeps Latin-1 strings one byte a character
      case 'number':
      case 'boolean':
      case 'undefined':
        return 8;
      case 'bigint':
        return 24;
      case 'object': {
        if (v === null) return 8;
        if (seen.has(v)) return 8;
        seen.add(v);
        if (ArrayBuffer.isView(v)) return OBJECT_BYTES + v.buffer.byteLength;
        if (v instanceof Date) return OBJECT_BYTES;
        if (v instanceof Promise) return OBJECT_BYTES;
        let bytes = OBJECT_BYTES;
        if (Array.isArray(v)) for (const item of v) bytes += 8 + walk(item);
        else for (const [name, member] of Object.entries(v)) bytes += 16 + walk(name) + walk(member);
        return bytes;
      }
      default:
        return 8;
    }
  };
  return walk(value);
}
