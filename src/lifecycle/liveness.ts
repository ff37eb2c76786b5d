/**
 * The process's own verdict on whether it can still do its work, which /health/live
 * reports: once failed (a dependency it runs itself could not be kept running), it stays
 * failed; the process exits and is restarted by whatever runs it.
 */
export class Liveness {
  private failed?: { component: string; reason: string };

  /** Marks the process as no longer live because of `component` (e.g. "database"); the first failure is kept. */
  fail(component: string, reason: string): void {
    this.failed ??= { component, reason };
  }

  /** What failed and why, or undefined while the process is live. */
  get failure(): { component: string; reason: string } | undefined {
    return this.failed;
  }
}

/** The one verdict of this process. */
export const liveness = new Liveness();
