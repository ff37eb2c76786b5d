import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import {
  BLOCKLIST_CHANGES,
  type BlockedHash,
  type BlocklistEntry,
  BlocklistRepository,
  type BlocklistSource,
  type HashAlgorithm,
  type HashRow,
  type IndexedEntry,
} from '../db/blocklist.repository.js';
import { ChangeFeed, type Change } from '../db/change-feed.js';
import { MediaRepository } from '../db/media.repository.js';
import { MediaError } from '../errors.js';
import { BlocklistIndex, type BlockMatch, type FileHashes } from './blocklist-index.js';
import { toHex } from './phash.js';
import { UUID } from '../common/uuid.js';

export type { BlockMatch, FileHashes } from './blocklist-index.js';
export type { BlockedHash, BlocklistEntry, HashAlgorithm } from '../db/blocklist.repository.js';

export interface NewBlock {
  hashes: { algorithm: HashAlgorithm; hash: string }[];
  reason: string;
  source: BlocklistSource;
  mediaId?: string;
  createdBy?: string;
}

const HEX_LENGTH: Record<HashAlgorithm, number> = { sha256: 64, md5: 32, phash: 16 };
/** Entries read per query at start-up (and per reload of changed entries). */
const PAGE = 20_000;
const RETRY_MS = 2000;

/** The hash in its stored form (lowercase hex of the algorithm's length), or undefined when it is not one. */
export function parseHash(algorithm: unknown, hash: unknown): BlockedHash | undefined {
  if (typeof algorithm !== 'string' || !Object.hasOwn(HEX_LENGTH, algorithm) || typeof hash !== 'string')
    return undefined;
  const length = HEX_LENGTH[algorithm as HashAlgorithm];
  return hash.length === length && /^[0-9a-fA-F]+$/.test(hash)
    ? { algorithm: algorithm as HashAlgorithm, hash: hash.toLowerCase() }
    : undefined;
}

/**
 * The local blocklist: every blocked hash in memory (loaded from PostgreSQL at start-up),
 * matched synchronously by uploads and hash-check. Each replica stays current through the
 * change feed (a trigger announces every changed entry; after a reconnect everything is
 * reloaded), and this process's own additions and removals apply at once.
 *
 * Reloads run one at a time, in order, so a later read always lands after an earlier one.
 */
@Injectable()
export class BlocklistService implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger('Blocklist');
  private readonly maxDistance: number;
  private index: BlocklistIndex;
  /** The reloads, chained. */
  private work: Promise<void> = Promise.resolve();
  private readonly dirty = new Set<string>();
  private flushQueued = false;
  private queuedFullLoad?: Promise<void>;
  /** Local changes made while a full load runs, applied again to what it loaded. */
  private replay?: ((index: BlocklistIndex) => void)[];
  private loaded = false;
  /** Until loaded: the latest full load, which whenReady() follows. */
  private firstLoad?: Promise<void>;
  private retry?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly repository: BlocklistRepository,
    private readonly media: MediaRepository,
    changes: ChangeFeed,
  ) {
    this.maxDistance = config.phashMaxDistance;
    this.index = new BlocklistIndex(this.maxDistance);
    changes.subscribe(BLOCKLIST_CHANGES, (change) => this.heard(change));
  }

  /** An API process loads at start-up; a worker only when something first needs the blocklist (it may never). */
  onModuleInit(): void {
    if (this.config.role !== 'worker' && !this.firstLoad) void this.fullLoad().catch(() => {});
  }

  onModuleDestroy(): void {
    this.stopped = true;
    clearTimeout(this.retry);
  }

  /** The start-up load is done (for readiness). */
  get ready(): boolean {
    return this.loaded;
  }

  /** Resolves once the start-up load is done; rejects (503) while it cannot be done. */
  async whenReady(): Promise<void> {
    if (this.loaded) return;
    try {
      await (this.firstLoad ?? this.fullLoad());
    } catch (error) {
      throw new MediaError('DEPENDENCY_UNAVAILABLE', 'The blocklist is not loaded yet; try again shortly', {
        retryAfter: 5,
        cause: error,
      });
    }
  }

  /** The first entry blocking one of these hashes: exact sha256, then md5, then the nearest pHash within PHASH_MAX_DISTANCE. */
  match(hashes: FileHashes): BlockMatch | undefined {
    return this.index.match(hashes);
  }

  /**
   * Blocks the hashes (invalid ones are dropped) as one entry, and quarantines the media of
   * any user that match them; an identical verdict of moderation-service reuses its entry.
   * When it resolves, this process's matching and media reads already reflect it.
   */
  async add(input: NewBlock): Promise<{ entry: BlocklistEntry; quarantined: number }> {
    const hashes = this.validHashes(input.hashes);
    if (hashes.length === 0) throw new MediaError('VALIDATION_FAILED', 'No valid hash to block');
    const result = await this.repository.insert({ ...input, hashes }, this.maxDistance);
    const { entry, quarantined } = result;
    this.apply((index) => index.put({ id: entry.id, reason: entry.reason, hashes: entry.hashes }));
    this.media.forget(quarantined);
    if (result.created)
      this.log.log(
        `blocked ${hashes.length} hash(es) as entry ${entry.id} (${input.source}${input.createdBy ? ` ${input.createdBy}` : ''}); ${quarantined.length} media quarantined`,
      );
    return { entry, quarantined: quarantined.length };
  }

  /** Blocks every hash of a stored media (uploaded and stored digests, pHashes), which is quarantined with any copies. */
  async addMedia(input: {
    mediaId: string;
    reason: string;
    createdBy?: string;
  }): Promise<{ entry: BlocklistEntry; quarantined: number }> {
    const media = UUID.test(input.mediaId) ? await this.media.findById(input.mediaId.toLowerCase()) : null;
    if (!media) throw new MediaError('NOT_FOUND', 'Media not found');
    const hashes: BlockedHash[] = [
      { algorithm: 'sha256', hash: media.originalSha256 },
      { algorithm: 'md5', hash: media.originalMd5 },
      { algorithm: 'sha256', hash: media.sha256 },
      { algorithm: 'md5', hash: media.md5 },
      ...media.phashes.map((hash) => ({ algorithm: 'phash' as const, hash: toHex(hash) })),
    ];
    return this.add({ hashes, reason: input.reason, source: 'admin', mediaId: media.id, createdBy: input.createdBy });
  }

  /** Deletes the entry; the media it quarantined are visible again (to this process at once). */
  async remove(entryId: string): Promise<boolean> {
    if (!UUID.test(entryId)) return false;
    const id = entryId.toLowerCase();
    const { deleted, released } = await this.repository.delete(id);
    if (!deleted) return false;
    this.media.forget(released);
    this.apply((index) => index.drop(id));
    this.log.log(`unblocked entry ${id}`);
    return true;
  }

  private validHashes(hashes: NewBlock['hashes']): BlockedHash[] {
    const valid = new Map<string, BlockedHash>();
    for (const { algorithm, hash } of hashes) {
      const parsed = parseHash(algorithm, hash);
      if (parsed) valid.set(`${parsed.algorithm}:${parsed.hash}`, parsed);
      else this.log.warn(`ignoring an invalid ${String(algorithm)} hash to block`);
    }
    return [...valid.values()];
  }

  private apply(change: (index: BlocklistIndex) => void): void {
    change(this.index);
    this.replay?.push(change);
  }

  /** Before the first load (a worker that never needed the blocklist) there is nothing to keep current. */
  private heard(change: Change | 'reset'): void {
    if (change === 'reset') {
      if (this.firstLoad) void this.fullLoad().catch(() => {});
    } else if (this.firstLoad && UUID.test(change.id)) {
      this.dirty.add(change.id.toLowerCase());
      this.scheduleReload();
    }
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.work.then(task);
    this.work = run.catch(() => {});
    return run;
  }

  /** Reloads every entry, unless a full load is already waiting to start (it will see everything). */
  private fullLoad(): Promise<void> {
    if (this.queuedFullLoad) return this.queuedFullLoad;
    const load = this.enqueue(async () => {
      this.queuedFullLoad = undefined;
      await this.loadEverything();
    });
    this.queuedFullLoad = load;
    if (!this.loaded) this.firstLoad = load;
    load.then(
      () => (this.loaded = true),
      (error: unknown) => {
        this.log.error(`could not load the blocklist (${(error as Error).message}); retrying in ${RETRY_MS} ms`);
        if (!this.stopped) this.retry = setTimeout(() => void this.fullLoad().catch(() => {}), RETRY_MS).unref();
      },
    );
    return load;
  }

  private async loadEverything(): Promise<void> {
    const started = performance.now();
    this.dirty.clear(); // what was announced before this read is in it
    const index = new BlocklistIndex(this.maxDistance);
    this.replay = [];
    try {
      for (const entry of await this.readEverything()) index.put(entry);
      for (const change of this.replay) change(index);
      index.prepare();
      this.index = index;
    } finally {
      this.replay = undefined;
    }
    const { entries, hashes } = index.size;
    this.log.log(
      `blocklist loaded: ${entries} entries, ${hashes} hashes in ${Math.round(performance.now() - started)} ms`,
    );
  }

  /** Every entry with its hashes, read in pages of each table in key order (index scans, no join). */
  private async readEverything(): Promise<IndexedEntry[]> {
    const entries = new Map<string, IndexedEntry>();
    // One string per distinct reason: moderation-service gives many entries the same few.
    const reasons = new Map<string, string>();
    let after: string | null = null;
    do {
      const page = await this.repository.entryPage(after, PAGE);
      for (const { id, reason } of page) {
        if (!reasons.has(reason)) reasons.set(reason, reason);
        entries.set(id, { id, reason: reasons.get(reason)!, hashes: [] });
      }
      after = page.length === PAGE ? page[PAGE - 1].id : null;
    } while (after);
    let last: HashRow | null = null;
    do {
      const page = await this.repository.hashPage(last, PAGE);
      // A hash of an entry inserted after the entries were read: that insert was announced, and its reload follows.
      for (const { entryId, algorithm, hash } of page) entries.get(entryId)?.hashes.push({ algorithm, hash });
      last = page.length === PAGE ? page[PAGE - 1] : null;
    } while (last);
    // Pushing onto [] leaves room for 17; a million entries with one or a few hashes each would keep that slack.
    for (const entry of entries.values()) entry.hashes = entry.hashes.slice();
    return [...entries.values()];
  }

  /** Re-reads the entries announced since the last reload: changed ones replace, deleted ones leave the index. */
  private scheduleReload(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    void this.enqueue(async () => {
      this.flushQueued = false;
      const ids = [...this.dirty];
      this.dirty.clear();
      try {
        for (let i = 0; i < ids.length; i += PAGE) {
          const batch = ids.slice(i, i + PAGE);
          const found = new Map((await this.repository.entries(batch)).map((entry) => [entry.id, entry]));
          for (const id of batch) {
            const entry = found.get(id);
            this.apply((index) => (entry ? index.put(entry) : index.drop(id)));
          }
        }
      } catch (error) {
        for (const id of ids) this.dirty.add(id);
        this.log.warn(`could not reload changed blocklist entries (${(error as Error).message}); retrying`);
        if (!this.stopped) setTimeout(() => this.scheduleReload(), RETRY_MS).unref();
      }
    });
  }
}
