import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { type FileHandle, mkdir, open, opendir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { Readable } from 'node:stream';

const READ_CHUNK_BYTES = 256 * 1024;
import { pipeline } from 'node:stream/promises';
import { assertValidKey } from './blob-keys.js';
import { type BlobInfo, BlobNotFoundError, type BlobStore, type ByteRange } from './blob-store.js';

/** Blobs as files under one root; writes go to a temp file, are fsynced, then renamed into place. */
export class LocalBlobStore implements BlobStore {
  private readonly staging: string;
  /** Directories known to exist (at most 256 per type and environment: blob-keys.ts), so a write does not ask again. */
  private readonly madeDirs = new Set<string>();

  constructor(private readonly root: string) {
    this.staging = join(root, '.staging');
  }

  async put(key: string, source: Readable, options: { signal?: AbortSignal } = {}): Promise<{ size: number }> {
    const target = this.pathOf(key);
    await mkdir(this.staging, { recursive: true, mode: 0o700 });
    const temp = join(this.staging, randomUUID());
    try {
      await pipeline(source, createWriteStream(temp, { flags: 'wx', mode: 0o600 }), { signal: options.signal });
      return await this.moveIn(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  async putFile(key: string, path: string): Promise<{ size: number }> {
    const target = this.pathOf(key);
    try {
      return await this.moveIn(path, target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
      // Another file system: copy through staging, then drop the original.
      const stored = await this.put(key, createReadStream(path));
      await rm(path, { force: true });
      return stored;
    }
  }

  /**
   * Flushes `path` to disk, renames it to `target` and flushes the rename (it survives a power
   * cut before the row commits); answers its size.
   */
  private async moveIn(path: string, target: string): Promise<{ size: number }> {
    const size = await synced(path, async (file) => (await file.stat()).size);
    const dir = dirname(target);
    await this.ensureDir(dir);
    await rename(path, target).catch(async (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
      // The directory went away since it was made (or the file is missing, and this fails again).
      this.madeDirs.delete(dir);
      await this.ensureDir(dir);
      await rename(path, target);
    });
    await synced(dir, async () => undefined);
    return { size };
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.madeDirs.has(dir)) return;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    this.madeDirs.add(dir);
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const path = this.pathOf(key);
    const file = await open(path, 'r').catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'ENOENT' ? new BlobNotFoundError(key) : error;
    });
    // 256 KiB reads: the decryptor opens ~4 segments a call and writes them out in one piece
    // (1 MiB was faster still, 410-506 MB/s for 100 MB, but 8 parallel downloads then took ~70 MB more RSS).
    return file.createReadStream({
      ...(range ? { start: range.start, end: range.end } : {}),
      highWaterMark: READ_CHUNK_BYTES,
    });
  }

  async head(key: string): Promise<BlobInfo | null> {
    try {
      const info = await stat(this.pathOf(key));
      return { key, size: info.size, lastModified: info.mtime };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async *list(prefix: string): AsyncIterable<BlobInfo> {
    const start = join(this.root, prefix.slice(0, prefix.lastIndexOf('/') + 1));
    for await (const path of walk(start)) {
      const key = relative(this.root, path).split(sep).join('/');
      if (!key.startsWith(prefix) || key.startsWith('.staging/')) continue;
      const info = await stat(path).catch(() => null);
      if (info) yield { key, size: info.size, lastModified: info.mtime };
    }
  }

  async health(): Promise<void> {
    await mkdir(this.staging, { recursive: true, mode: 0o700 });
    const probe = join(this.staging, `health-${randomUUID()}`);
    const file = await open(probe, 'wx', 0o600);
    await file.close();
    await rm(probe);
  }

  private pathOf(key: string): string {
    assertValidKey(key);
    return join(this.root, ...key.split('/'));
  }
}

async function* walk(dir: string): AsyncIterable<string> {
  let entries;
  try {
    entries = await opendir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  for await (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (entry.isFile()) yield path;
  }
}

/**
 * Flushes a file's data, or a directory's entries, to disk (fsync applies to the inode,
 * whichever descriptor asks), then runs `then` on the same descriptor.
 */
async function synced<T>(path: string, then: (file: FileHandle) => Promise<T>): Promise<T> {
  const file = await open(path, 'r');
  try {
    await file.sync();
    return await then(file);
  } finally {
    await file.close();
  }
}
