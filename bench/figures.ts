/**
 * The figures `npm run bench` reports, each with its goal beside it, and the
 * table made from several runs: median, min-max, the baseline's median where the run
 * measured one (key `<figure>:baseline`), and whether the median meets the goal.
 */
import { median } from './support.js';

/** One run's numbers by figure key (`<key>:baseline` for the baseline's). */
export type Measured = Record<string, number>;

export interface Figure {
  key: string;
  label: string;
  unit: string;
  goal: string;
  /** Whether the median meets the goal; undefined for a figure shown for reference (no goal). */
  met(value: number, baseline: number | undefined): boolean | undefined;
}

const atLeast = (n: number) => (v: number) => v >= n;
const below = (n: number) => (v: number) => v < n;
/** A figure shown for reference: no goal. */
const reference = () => undefined;

export const FIGURES: Figure[] = [
  {
    key: 'smallUploadRate',
    label: '200 × 1 MiB uploads, 8 users, c=8',
    unit: 'req/s',
    goal: '≥ 0.8 × baseline',
    met: (v, b) => v >= 0.8 * (b ?? Infinity),
  },
  { key: 'smallUploadP50', label: '… p50', unit: 'ms', goal: '< 100', met: below(100) },
  {
    key: 'smallUploadCpu',
    label: '… service + database CPU per upload',
    unit: 'ms',
    goal: '≤ 12',
    met: (v) => v <= 12,
  },
  {
    key: 'fiveUploadRatio',
    label: '5 MB upload, throughput ratio to baseline',
    unit: '×',
    goal: '≥ 0.9',
    met: atLeast(0.9),
  },
  { key: 'bigUpload', label: '100 MB upload', unit: 'MB/s', goal: '≥ 170', met: atLeast(170) },
  { key: 'smallDownload', label: 'the 200 × 1 MiB downloaded, c=8', unit: 'MiB/s', goal: '≥ 150', met: atLeast(150) },
  { key: 'bigDownload', label: '100 MB download', unit: 'MB/s', goal: '≥ 300', met: atLeast(300) },
  { key: 'rangeP50', label: '1 MB Range at the end of 100 MB, p50', unit: 'ms', goal: '< 10', met: below(10) },
  { key: 'metadataP50', label: 'GET metadata, one at a time, p50', unit: 'ms', goal: '< 2', met: below(2) },
  { key: 'metadataRate', label: 'GET metadata, c=16', unit: 'req/s', goal: '≥ 2000', met: atLeast(2000) },
  { key: 'tenKbP50', label: 'GET a 10 KB file, one at a time, p50', unit: 'ms', goal: '< 2', met: below(2) },
  { key: 'tenKbRate', label: 'GET a 10 KB file, c=16', unit: 'req/s', goal: '≥ 2000', met: atLeast(2000) },
  {
    key: 'signedTenKbRate',
    label: '… the same by a grantee through a signed URL, c=16 (baseline: the owner’s, same run)',
    unit: 'req/s',
    goal: '≥ 0.9 × the owner’s',
    met: (v, b) => v >= 0.9 * (b ?? Infinity),
  },
  { key: 'previewP50', label: 'GET a 256 px preview, one at a time, p50', unit: 'ms', goal: '< 2', met: below(2) },
  { key: 'previewRate', label: 'GET a 256 px preview, c=16', unit: 'req/s', goal: '≥ 2000', met: atLeast(2000) },
  ...(['metadata', 'tenKb', 'preview'] as const).flatMap((name): Figure[] => {
    const what = { metadata: 'metadata', tenKb: 'a 10 KB file', preview: 'a 256 px preview' }[name];
    return [
      {
        key: `${name}ClientUs`,
        label: `… GET ${what} at c=16: the load client's CPU per GET (fetch)`,
        unit: 'µs',
        goal: '—',
        met: reference,
      },
      {
        key: `${name}RateHttp`,
        label: `… the same through node:http, kept alive (a lighter client)`,
        unit: 'req/s',
        goal: '—',
        met: reference,
      },
      { key: `${name}ClientUsHttp`, label: `… its CPU per GET`, unit: 'µs', goal: '—', met: reference },
    ];
  }),
  { key: 'peakRss', label: 'peak RSS, 3 × 100 MB up + 8 × 100 MB down', unit: 'MB', goal: '< 300', met: below(300) },
  {
    key: 'videoPeakRss',
    label: 'peak RSS, 3 × 90 MB H.264 videos uploaded at once (each remuxed during its upload)',
    unit: 'MB',
    goal: '< 400',
    met: below(400),
  },
  {
    key: 'tusBigUpload',
    label: '100 MB upload by tus, 6 MiB chunks (baseline: a multipart upload just before it)',
    unit: 'MB/s',
    goal: '—',
    met: reference,
  },
  {
    key: 'tusBigRatio',
    label: '… throughput ratio to that multipart upload',
    unit: '×',
    goal: '≥ 0.8× multipart',
    met: atLeast(0.8),
  },
  {
    key: 'fetchUploadRate',
    label: '50 × 1 MiB uploads one at a time through fetch (one kept-alive connection)',
    unit: 'req/s',
    goal: '—',
    met: reference,
  },
  {
    key: 'curlUploadRate',
    label: '… through curl (a process and a connection each)',
    unit: 'req/s',
    goal: '—',
    met: reference,
  },
  { key: 'fetchVsCurl', label: '… fetch / curl', unit: '×', goal: '≥ 1 (keep-alive costs nothing)', met: atLeast(1) },
];

/** Tracing on (spans exported by OTLP/HTTP) against off, the same small uploads, same run (bench/tracing-cost.ts). */
export const TRACING_FIGURES: Figure[] = [
  { key: 'tracingOffRate', label: '200 × 1 MiB uploads, tracing off', unit: 'req/s', goal: '—', met: reference },
  { key: 'tracingOnRate', label: '… tracing on (OTLP export)', unit: 'req/s', goal: '—', met: reference },
  {
    key: 'tracingRatio',
    label: '… on / off',
    unit: '×',
    goal: '≥ 0.9 (off creates no span at all)',
    met: atLeast(0.9),
  },
];

/** The blocklist at 1,000,000 entries (bench/hash.bench.ts, each run its own process). */
export const BLOCKLIST_FIGURES: Figure[] = [
  {
    key: 'phashBytesPerEntry',
    label: 'pHash index, 1M entries: memory per entry',
    unit: 'B',
    goal: '≤ 32',
    met: (v) => v <= 32,
  },
  { key: 'phashLookupP99', label: '… lookup at distance ≤ 10, p99', unit: 'ms', goal: '< 1', met: below(1) },
  {
    key: 'phashLookupP50',
    label: '… lookup p50 (baseline: a linear scan of the same hashes)',
    unit: 'ms',
    goal: '—',
    met: reference,
  },
  {
    key: 'blocklistBytesPerEntry',
    label: 'the whole in-memory blocklist, 1M entries of a sha256 + a pHash: memory per entry',
    unit: 'B',
    goal: '—',
    met: reference,
  },
];

/** Processing through the service against the bare tools doing the same work (bench/process.bench.ts). */
export const PROCESSING_FIGURES: Figure[] = [
  {
    key: 'photoMs',
    label: '12 MP JPEG upload → 201, p50 of 5 (baseline: sharp alone, the same compress + 3 previews)',
    unit: 'ms',
    goal: '—',
    met: reference,
  },
  { key: 'photoRatio', label: '… service / sharp', unit: '×', goal: '≤ 1.15', met: (v) => v <= 1.15 },
  {
    key: 'videoMs',
    label: '1080p 10 s MPEG-4 upload → ready, p50 of 3 (baseline: bare FFmpeg, the same transcode)',
    unit: 'ms',
    goal: '—',
    met: reference,
  },
  { key: 'videoRatio', label: '… service / FFmpeg', unit: '×', goal: '≤ 1.15', met: (v) => v <= 1.15 },
];

/** `npm run bench -- --replicas`: the same small uploads through two processes on one PostgreSQL and one DATA_DIR. */
const REPLICA_GOAL = '≥ 1.6× (not reachable on 2 cores: see docs/scaling.md)';
export const REPLICA_FIGURES: Figure[] = [
  {
    key: 'oneReplicaRate',
    label: 'one replica on one PostgreSQL (DATABASE_URL), 200 × 1 MiB uploads, 8 users, c=8',
    unit: 'req/s',
    goal: '—',
    met: reference,
  },
  { key: 'oneReplicaCpu', label: '… service + PostgreSQL CPU per upload', unit: 'ms', goal: '—', met: reference },
  {
    key: 'twoReplicasRate8',
    label: 'two replicas, the same uploads split round-robin, c=8',
    unit: 'req/s',
    goal: '—',
    met: reference,
  },
  { key: 'twoReplicasRate16', label: '… c=16', unit: 'req/s', goal: '—', met: reference },
  {
    key: 'twoReplicasRatio8',
    label: 'two replicas / one replica, c=8',
    unit: '×',
    goal: REPLICA_GOAL,
    met: atLeast(1.6),
  },
  {
    key: 'twoReplicasRatio16',
    label: 'two replicas (c=16) / one replica (c=8)',
    unit: '×',
    goal: REPLICA_GOAL,
    met: atLeast(1.6),
  },
];

const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

/** One figure over several runs: the median, min-max, the baseline's median and whether it meets the goal. */
function summary(f: Figure, runs: Measured[]) {
  const values = runs.map((r) => r[f.key]);
  const baselines = runs.map((r) => r[`${f.key}:baseline`]).filter((v) => v !== undefined);
  const base = baselines.length ? median(baselines) : undefined;
  const value = median(values);
  const met = f.met(value, base);
  return {
    value,
    median: `${fmt(value)} ${f.unit}`,
    spread: `${fmt(Math.min(...values))}-${fmt(Math.max(...values))}`,
    base: base === undefined ? '—' : fmt(base),
    met: met === undefined ? '—' : met ? 'yes' : '**no**',
  };
}

export function tableOf(figures: Figure[], runs: Measured[]): string {
  const rows = figures.map((f) => {
    const s = summary(f, runs);
    return `| ${f.label} | ${s.median} | ${s.spread} | ${s.base} | ${f.goal} | ${s.met} |`;
  });
  return ['| figure | median | min-max | baseline | goal | met |', '|---|---|---|---|---|---|', ...rows].join('\n');
}

/** The same figures measured on two storage drivers in one run of the bench, side by side, with their ratio. */
export function driversTableOf(figures: Figure[], local: Measured[], other: Measured[], driver: string): string {
  const rows = figures.map((f) => {
    const [l, o] = [summary(f, local), summary(f, other)];
    return `| ${f.label} | ${l.median} (${l.spread}) | ${o.median} (${o.spread}) | ${fmt(o.value / l.value)} | ${l.base} / ${o.base} | ${f.goal} | ${l.met} / ${o.met} |`;
  });
  const head = `| figure | local: median (min-max) | ${driver}: median (min-max) | ${driver} / local | baseline (local / ${driver} runs) | goal | met (local / ${driver}) |`;
  return [head, '|---|---|---|---|---|---|---|', ...rows].join('\n');
}
