import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import pg from 'pg';
import type { BoundedCache } from '../common/cache.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';

/** A change another process made (or this one): the channel and the payload (an id). */
export interface Change {
  channel: string;
  id: string;
}

/** Told of every change, or `reset` when changes may have been missed (the listener reconnected). */
export type ChangeListener = (change: Change | 'reset') => void;

const RECONNECT_MS = 1000;

/**
 * Changes announced by PostgreSQL triggers (NOTIFY at commit, see the migrations) on the
 * channels subscribed to, heard on one dedicated connection per process. It is what keeps
 * in-memory copies of rows (the media cache, the blocklist index) current on every replica.
 * While the connection is down nothing is heard, so `live` is false and a cache must not
 * serve; when it comes back every listener gets `reset` first.
 */
@Injectable()
export class ChangeFeed implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger('ChangeFeed');
  private readonly listeners = new Map<string, Set<ChangeListener>>();
  private client?: pg.Client;
  private connected = false;
  private stopped = false;
  private retry?: NodeJS.Timeout;
  /** Bumped by every change heard and every reset: a reader compares it around a read. */
  private generationCount = 0;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  get live(): boolean {
    return this.connected;
  }

  get generation(): number {
    return this.generationCount;
  }

  subscribe(channel: string, listener: ChangeListener): void {
    if (!this.listeners.has(channel)) this.listeners.set(channel, new Set());
    this.listeners.get(channel)!.add(listener);
    if (this.connected)
      void this.client?.query(`LISTEN ${pg.escapeIdentifier(channel)}`).catch(() => this.client?.end());
  }

  async onModuleInit(): Promise<void> {
    await this.connect();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    this.connected = false;
    await this.client?.end().catch(() => {});
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.config.databaseUrl,
      application_name: 'media-service changes',
    });
    this.client = client;
    client.on(
      'notification',
      (message) => message.payload && this.emit(message.channel, { channel: message.channel, id: message.payload }),
    );
    client.on('error', () => client.end().catch(() => {}));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      for (const channel of this.listeners.keys()) await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      this.connected = true;
      for (const channel of this.listeners.keys()) this.emit(channel, 'reset');
    } catch (error) {
      this.log.warn(`cannot listen for changes (${(error as Error).message}); caches stay off until it can`);
      await client.end().catch(() => {});
      this.lost(client);
    }
  }

  private lost(client: pg.Client): void {
    if (client !== this.client) return;
    this.client = undefined;
    if (this.connected) for (const channel of this.listeners.keys()) this.emit(channel, 'reset');
    this.connected = false;
    if (!this.stopped) this.retry = setTimeout(() => void this.connect(), RECONNECT_MS).unref();
  }

  private emit(channel: string, change: Change | 'reset'): void {
    this.generationCount++;
    for (const listener of this.listeners.get(channel) ?? []) listener(change);
  }
}

/**
 * An in-memory copy of rows kept current by the change feed: used only while the feed is
 * live, an entry is dropped when its channel announces its key (every replica), and a read
 * that a change overtook (heard, or made here and `forget`-ten) is not kept.
 */
export class FeedCache<V extends NonNullable<unknown>> {
  /** Bumped by every local `forget`, as the feed's generation is by every change heard. */
  private forgotten = 0;

  constructor(
    private readonly changes: ChangeFeed,
    channel: string,
    private readonly entries: BoundedCache<string, V>,
  ) {
    changes.subscribe(channel, (change) => (change === 'reset' ? entries.clear() : entries.delete(change.id)));
  }

  /** The cached value, else `read()`'s, kept when `keep` says so and nothing overtook the read. */
  async readThrough(
    key: string,
    read: () => Promise<V | null>,
    keep: (value: V) => boolean = () => true,
  ): Promise<V | null> {
    const cached = this.changes.live ? this.entries.get(key) : undefined;
    if (cached !== undefined) return cached;
    const [generation, forgotten] = [this.changes.generation, this.forgotten];
    const value = await read();
    if (
      value !== null &&
      keep(value) &&
      this.changes.live &&
      this.changes.generation === generation &&
      this.forgotten === forgotten
    )
      this.entries.set(key, value);
    return value;
  }

  /** Drops entries this process has just changed (all when no keys are given): it reads its own changes at once. */
  forget(keys?: string[]): void {
    this.forgotten++;
    if (!keys) this.entries.clear();
    else for (const key of keys) this.entries.delete(key);
  }
}
