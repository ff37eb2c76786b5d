import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Measured } from './figures.js';
import { ROOT } from './support.js';

/**
 * The goals `npm run bench` reads from its sibling benchmarks, each run `runs` times as its
 * own process (bench:hash needs --expose-gc and a quiet heap; bench:process its own service):
 * each run's bench/results/<name>.json, turned into figures.
 */
async function runsOf(
  name: 'hash' | 'process',
  runs: number,
  figures: (json: Record<string, any>) => Measured,
): Promise<Measured[]> {
  const measured: Measured[] = [];
  for (let run = 0; run < runs; run++) {
    execFileSync(process.execPath, ['--expose-gc', join(ROOT, 'dist', 'bench', `${name}.bench.js`)], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    measured.push(figures(JSON.parse(readFileSync(join(ROOT, 'bench', 'results', `${name}.json`), 'utf8'))));
    console.error(`${name}: run ${run + 1} of ${runs} done`);
  }
  return measured;
}

/** The blocklist at 1M entries (bench/hash.bench.ts); the baseline of the lookup is a linear scan. */
export const measureBlocklist = (runs: number): Promise<Measured[]> =>
  runsOf('hash', runs, (json) => ({
    phashBytesPerEntry: json.bytesPerEntry,
    phashLookupP99: json.lookupMs.p99,
    'phashLookupP50:baseline': json.scanMs.p50,
    phashLookupP50: json.lookupMs.p50,
    blocklistBytesPerEntry: json.wholeBlocklistBytesPerEntry,
  }));

/** A 12 MP JPEG and a 1080p video through the service against the bare tools' same work (bench/process.bench.ts). */
export const measureProcessing = (runs: number): Promise<Measured[]> =>
  runsOf('process', runs, (json) => ({
    photoRatio: json.photoMs / json.sharpMs,
    photoMs: json.photoMs,
    'photoMs:baseline': json.sharpMs,
    videoRatio: json.videoMs / json.ffmpegMs,
    videoMs: json.videoMs,
    'videoMs:baseline': json.ffmpegMs,
  }));
