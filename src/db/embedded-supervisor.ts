import type { ChildProcess } from 'node:child_process';

export interface SupervisorOptions {
  /** Starts the server again; resolves with its process once it accepts connections, rejects if it did not start. */
  restart: () => Promise<ChildProcess>;
  log: (line: string) => void;
  /** Restarts kept failing: the caller should fail liveness and exit so the process is restarted. */
  onGiveUp: (reason: string) => void;
  /** The first back-off; each restart since the server last ran steadily doubles it. */
  firstDelayMs?: number;
  maxDelayMs?: number;
  /** Restarts (failed, or whose server died before running steadily) before giving up. */
  maxRestarts?: number;
  /** Up this long, a server counts as running steadily again: the back-off starts over. */
  steadyMs?: number;
}

export type SupervisorState = 'up' | 'restarting' | 'gave-up' | 'stopped';

/**
 * Keeps the embedded PostgreSQL running: when its postmaster ends without being asked to
 * (killed, crashed, stopped by hand), it is started again after a back-off (0.5 s, 1 s,
 * 2 s … 8 s). Restarts count until the server has run steadily for a minute; after five
 * the supervisor gives up and calls onGiveUp. stop() ends the supervision first, so a
 * shutdown never starts the server again.
 */
export class EmbeddedSupervisor {
  private current?: { child: ChildProcess; since: number };
  private restarts = 0;
  private timer?: NodeJS.Timeout;
  private attempt?: Promise<void>;
  private status: SupervisorState = 'up';
  private readonly firstDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxRestarts: number;
  private readonly steadyMs: number;

  constructor(private readonly options: SupervisorOptions) {
    this.firstDelayMs = options.firstDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 8000;
    this.maxRestarts = options.maxRestarts ?? 5;
    this.steadyMs = options.steadyMs ?? 60_000;
  }

  get state(): SupervisorState {
    return this.status;
  }

  /** Watches `child`, the running postmaster. */
  watch(child: ChildProcess): void {
    this.current = { child, since: Date.now() };
    this.status = 'up';
    child.once('exit', (code, signal) => this.ended(child, code, signal));
  }

  /** No more restarts; waits for one under way to settle (its server is then stopped by the caller). */
  async stop(): Promise<void> {
    this.status = 'stopped';
    clearTimeout(this.timer);
    await this.attempt;
  }

  private ended(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.status === 'stopped' || this.current?.child !== child) return;
    if (Date.now() - this.current.since >= this.steadyMs) this.restarts = 0;
    this.current = undefined;
    this.options.log(
      `embedded PostgreSQL (pid ${child.pid}) ended unexpectedly (${signal ? `signal ${signal}` : `exit code ${code}`})`,
    );
    this.schedule();
  }

  private schedule(): void {
    if (this.restarts >= this.maxRestarts) {
      this.status = 'gave-up';
      const reason = `the embedded PostgreSQL could not be kept running: ${this.restarts} restarts without a steady run`;
      this.options.log(reason);
      this.options.onGiveUp(reason);
      return;
    }
    const delay = Math.min(this.firstDelayMs * 2 ** this.restarts, this.maxDelayMs);
    this.status = 'restarting';
    this.options.log(
      `restarting the embedded PostgreSQL in ${delay} ms (restart ${this.restarts + 1} of at most ${this.maxRestarts})`,
    );
    this.timer = setTimeout(() => (this.attempt = this.restart().finally(() => (this.attempt = undefined))), delay);
    this.timer.unref(); // never what keeps the process alive
  }

  private async restart(): Promise<void> {
    this.restarts++;
    try {
      const child = await this.options.restart();
      // Stopped meanwhile: the caller stops the server it finds running.
      if (this.status === 'stopped') return;
      this.watch(child);
      this.options.log(`embedded PostgreSQL restarted (pid ${child.pid})`);
      // It may have died between starting and being watched.
      if (child.exitCode !== null || child.signalCode !== null) this.ended(child, child.exitCode, child.signalCode);
    } catch (error) {
      if (this.status === 'stopped') return;
      this.options.log(`the embedded PostgreSQL did not restart: ${(error as Error)?.message ?? error}`);
      this.schedule();
    }
  }
}
