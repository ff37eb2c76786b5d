/**
 * npm run bench:hash — the blocklist's near-duplicate lookup at scale. Builds a PhashIndex of
 * 1,000,000 random 64-bit hashes (seeded, so runs repeat) and measures its build time (the
 * adds, then the tables the first lookup builds) and memory (gc before and after); then the
 * p50/p99/max of 10,000 lookups at threshold 10, half random hashes and half blocked hashes
 * with 1..10 bits flipped (every one must be found at its exact distance, else exit 1); then
 * a linear scan of the same hashes in typed arrays on 300 of those queries as the baseline
 * (and a check that both find as many). Goals: ≤ 32 bytes an entry, lookup p99 < 1 ms. Writes
 * bench/results/hash.json and hash.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import { BlocklistIndex } from '../src/moderation/blocklist-index.js';
import { PhashIndex } from '../src/moderation/phash-index.js';
import { popcount32 } from '../src/moderation/phash.js';
import { ROOT } from './support.js';

const ENTRIES = 1_000_000;
const LOOKUPS = 10_000;
const WARMUP = 1_000;
const SCANS = 300;
const THRESHOLD = 10;
const MB = 1024 * 1024;

/** mulberry32, as test/support/random.ts (a bench must not import test/). */
function seededUint32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}
const random = seededUint32(0x5eed);
const below = (n: number) => Math.floor((random() / 2 ** 32) * n);
const join64 = (hi: number, lo: number) => (BigInt(hi) << 32n) | BigInt(lo);

interface Query {
  hash: bigint;
  /** For a near-duplicate: the blocked entry it must find, and at what distance. */
  expect?: { id: number; distance: number };
}

function nearDuplicate(hi: Uint32Array, lo: Uint32Array): Query {
  const entry = below(ENTRIES);
  const bits = new Set<number>();
  for (const count = 1 + below(THRESHOLD); bits.size < count;) bits.add(below(64));
  let hash = join64(hi[entry], lo[entry]);
  for (const bit of bits) hash ^= 1n << BigInt(bit);
  return { hash, expect: { id: entry, distance: bits.size } };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

/** Milliseconds of each lookup, sorted, and how many near-duplicates it missed. */
function lookups(index: PhashIndex, queries: Query[], t: number): { ms: number[]; missed: number } {
  const ms: number[] = [];
  let missed = 0;
  for (const query of queries) {
    const started = process.hrtime.bigint();
    const found = index.matches(query.hash, t);
    ms.push(Number(process.hrtime.bigint() - started) / 1e6);
    const want = query.expect;
    if (want && !found.some((match) => match.id === want.id && match.distance === want.distance)) missed++;
  }
  return { ms: ms.sort((a, b) => a - b), missed };
}

/** The baseline: every entry's distance, over the same typed arrays the index would need. */
function linearScan(hi: Uint32Array, lo: Uint32Array, hash: bigint, t: number): number {
  const qhi = Number(hash >> 32n);
  const qlo = Number(hash & 0xffffffffn);
  let found = 0;
  for (let i = 0; i < hi.length; i++) if (popcount32(hi[i] ^ qhi) + popcount32(lo[i] ^ qlo) <= t) found++;
  return found;
}

function main(): void {
  const gc = globalThis.gc;
  if (!gc) throw new Error('run with node --expose-gc (npm run bench:hash)');
  const hi = Uint32Array.from({ length: ENTRIES }, random);
  const lo = Uint32Array.from({ length: ENTRIES }, random);
  const queries = Array.from({ length: WARMUP + LOOKUPS }, (_, i): Query =>
    i % 2 ? nearDuplicate(hi, lo) : { hash: join64(random(), random()) },
  );

  gc();
  const before = process.memoryUsage();
  const buildStarted = process.hrtime.bigint();
  const index = new PhashIndex(THRESHOLD);
  for (let i = 0; i < ENTRIES; i++) index.add(i, join64(hi[i], lo[i]));
  const addMs = Number(process.hrtime.bigint() - buildStarted) / 1e6;
  index.matches(0n); // builds the tables (lazily, on the first lookup after the adds)
  const buildMs = Number(process.hrtime.bigint() - buildStarted) / 1e6;
  // Twice: the buffers the adds grew and the build let go are freed only after a later collection.
  gc();
  gc();
  const after = process.memoryUsage();
  const heapMb = (after.heapUsed - before.heapUsed) / MB;
  const buffersMb = (after.arrayBuffers - before.arrayBuffers) / MB;
  const rssMb = (after.rss - before.rss) / MB;

  lookups(index, queries.slice(0, WARMUP), THRESHOLD);
  const measured = queries.slice(WARMUP);
  const at10 = lookups(index, measured, THRESHOLD);
  const at16 = lookups(index, measured.slice(0, 1_000), 16);
  const nearDuplicates = measured.filter((query) => query.expect).length;

  const scanned = measured.slice(0, SCANS);
  const scanMs: number[] = [];
  let disagreements = 0;
  for (const query of scanned) {
    const started = process.hrtime.bigint();
    const found = linearScan(hi, lo, query.hash, THRESHOLD);
    scanMs.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (found !== index.matches(query.hash).length) disagreements++;
  }
  scanMs.sort((a, b) => a - b);
  const indexP50 = percentile(at10.ms, 50);
  const p99 = percentile(at10.ms, 99);
  const bytesPerEntry = ((heapMb + buffersMb) * MB) / ENTRIES;
  const pass = p99 < 1 && bytesPerEntry <= 32 && at10.missed === 0 && disagreements === 0;
  const correct = at10.missed === 0 && disagreements === 0;
  const rows: [string, string, string][] = [
    [
      'build (1M adds + first lookup)',
      `${(buildMs / 1000).toFixed(2)} s (tables: ${(buildMs - addMs).toFixed(0)} ms)`,
      'info',
    ],
    [
      'index memory: heap + typed arrays',
      `${heapMb.toFixed(1)} + ${buffersMb.toFixed(1)} MB (${bytesPerEntry.toFixed(1)} B/entry)`,
      `≤ 32 B/entry ${bytesPerEntry <= 32 ? '✓' : '✗'}`,
    ],
    ['RSS growth', `${rssMb.toFixed(1)} MB`, 'info'],
    [`lookup p50 (t=10, ${LOOKUPS} queries)`, `${indexP50.toFixed(3)} ms`, 'info'],
    ['lookup p99', `${p99.toFixed(3)} ms`, `< 1 ms ${p99 < 1 ? '✓' : '✗'}`],
    ['lookup max', `${percentile(at10.ms, 100).toFixed(3)} ms`, 'info'],
    [
      'near-duplicates found (1..10 bits)',
      `${nearDuplicates - at10.missed}/${nearDuplicates}`,
      `all ${at10.missed === 0 ? '✓' : '✗'}`,
    ],
    [
      'lookup p50 / p99 at t=16 (1000 queries)',
      `${percentile(at16.ms, 50).toFixed(3)} / ${percentile(at16.ms, 99).toFixed(3)} ms`,
      'info',
    ],
    [`linear scan p50 (${SCANS} queries)`, `${percentile(scanMs, 50).toFixed(3)} ms`, 'baseline'],
    [
      'speed-up over linear scan (p50)',
      `${(percentile(scanMs, 50) / indexP50).toFixed(0)}×`,
      `same results ${disagreements === 0 ? '✓' : '✗'}`,
    ],
  ];
  const whole = wholeBlocklist(hi, lo, gc);
  rows.push([
    'the whole BlocklistIndex, 1M entries of a sha256 + a pHash',
    `${whole.toFixed(0)} B/entry (${((whole * ENTRIES) / MB).toFixed(0)} MB)`,
    'info',
  ]);
  report(rows, {
    wholeBlocklistBytesPerEntry: whole,
    entries: ENTRIES,
    threshold: THRESHOLD,
    addMs,
    buildMs,
    heapMb,
    buffersMb,
    bytesPerEntry,
    rssMb,
    lookupMs: { p50: indexP50, p99, max: percentile(at10.ms, 100) },
    lookupMsAt16: { p50: percentile(at16.ms, 50), p99: percentile(at16.ms, 99) },
    nearDuplicates,
    missed: at10.missed,
    scanMs: { p50: percentile(scanMs, 50), p99: percentile(scanMs, 99) },
    disagreements,
    pass,
  });
  if (!correct) process.exitCode = 1; // a goal missed is a figure; a wrong answer is a failure
}

/**
 * Bytes per entry of the service's whole in-memory blocklist (BlocklistIndex): each entry's
 * id, reason and hashes as the database gives them, the exact-hash map and the pHash index.
 */
function wholeBlocklist(hi: Uint32Array, lo: Uint32Array, gc: () => void): number {
  gc();
  gc();
  const before = process.memoryUsage();
  const index = new BlocklistIndex(THRESHOLD);
  const sha = createHash('sha256');
  for (let i = 0; i < ENTRIES; i++) {
    const phash = join64(hi[i], lo[i]).toString(16).padStart(16, '0');
    index.put({
      id: Buffer.from(randomUUID()).toString(), // a flat string, as pg's row parser gives (randomUUID's is a 488-byte tree of pieces)
      reason: `reason ${i % 20}`,
      hashes: [
        { algorithm: 'sha256', hash: sha.copy().update(phash).digest('hex') },
        { algorithm: 'phash', hash: phash },
      ],
    });
  }
  index.prepare();
  gc();
  gc();
  const after = process.memoryUsage();
  const bytes = after.heapUsed - before.heapUsed + after.arrayBuffers - before.arrayBuffers;
  if (index.size.entries !== ENTRIES) throw new Error('the blocklist lost entries');
  return bytes / ENTRIES;
}

function report(rows: [string, string, string][], figures: Record<string, unknown>): void {
  const title = `media-service hash benchmark (node ${process.version}, ${new Date().toISOString()}): PhashIndex, ${ENTRIES.toLocaleString('en')} entries`;
  const width = Math.max(...rows.map(([name]) => name.length));
  console.log(title);
  for (const [name, value, goal] of rows) console.log(`${name.padEnd(width)}  ${value.padEnd(34)}  ${goal}`);
  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'hash.json'),
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, ...figures }, null, 2)}\n`,
  );
  const table = rows.map((row) => `| ${row.join(' | ')} |`).join('\n');
  writeFileSync(join(dir, 'hash.md'), `# ${title}\n\n| figure | value | goal |\n| --- | --- | --- |\n${table}\n`);
}

main();
