import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { mkdir, readdir, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { isProcessGone, PROCESS_TAG } from '../common/process-tag.js';
import { killProcessesUsing } from './orphan-processes.js';

const HEARTBEAT_MS = 60_000;
const STALE_AFTER_MS = 5 * 60_000;

/**
 * Private temp files of in-flight uploads, in a directory of this process's own
 * (DATA_DIR/tmp/<host>_<pid>_<start>_<id>, mode 0700) with a heartbeat, so a sweeper can tell
 * a crashed process's leftovers from a live one's, also across container restarts.
 */
export class TempFiles {
  readonly dir: string;
  /** This instance's tag (the process's tag and an id), also recorded on its quota reservations. */
  readonly tag: string;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(private readonly root: string) {
    this.tag = `${PROCESS_TAG}_${randomUUID().slice(0, 8)}`;
    this.dir = join(root, this.tag);
    mkdirSync(root, { recursive: true, mode: 0o700 });
    mkdirSync(this.dir, { mode: 0o700 });
    this.heartbeat = setInterval(() => {
      const now = new Date();
      utimes(this.dir, now, now).catch(() => {});
    }, HEARTBEAT_MS).unref();
  }

  newPath(suffix = ''): string {
    return join(this.dir, `${randomUUID()}${suffix}`);
  }

  /** A new private directory (0700) for one request's work files; the caller removes it. */
  async newDir(): Promise<string> {
    const dir = this.newPath('.d');
    await mkdir(dir, { mode: 0o700 });
    return dir;
  }

  /**
   * A new private directory for one upload's work files, made when a processor first names
   * it (`path`): most uploads (an archive, a text, an image kept as it came) write none, and
   * a directory made and removed for each costs trips to the thread pool. Made with one
   * synchronous mkdir; the caller removes it when `made`.
   */
  lazyDir(): { readonly path: string; readonly made: boolean } {
    const path = this.newPath('.d');
    let made = false;
    return {
      get path() {
        if (!made) mkdirSync(path, { mode: 0o700 });
        made = true;
        return path;
      },
      get made() {
        return made;
      },
    };
  }

  /** Removes directories left by processes that are gone; returns their tags. */
  async sweep(now = Date.now()): Promise<string[]> {
    const removed: string[] = [];
    for (const name of await readdir(this.root).catch(() => [] as string[])) {
      if (name === this.tag) continue;
      const path = join(this.root, name);
      const info = await stat(path).catch(() => null);
      if (!info) continue;
      if (this.isGone(name) || now - info.mtimeMs > STALE_AFTER_MS) {
        killProcessesUsing([path]); // a killed process's FFmpeg may still be writing there
        await rm(path, { recursive: true, force: true });
        removed.push(name);
      }
    }
    return removed;
  }

  /** Removes this process's directory (at shutdown). */
  close(): void {
    clearInterval(this.heartbeat);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Whether the process of tag `name` is known to be gone. */
  isGone(name: string): boolean {
    return isProcessGone(name);
  }
}
