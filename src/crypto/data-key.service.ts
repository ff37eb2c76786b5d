import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { boundedCache } from '../common/cache.js';
import { ChangeFeed } from '../db/change-feed.js';
import { KeysRepository } from '../db/keys.repository.js';
import { Envelope, newDataKey, newSalt } from './envelope.js';
import { KeyRing } from './key-ring.js';
import { DecryptionError } from './segment-format.js';

/** The channel a trigger announces destroyed data keys on (migration 20261207000000). */
const DATA_KEY_CHANGES = 'data_key_changes';

export interface FreshDataKey {
  id: string;
  key: Buffer;
  masterKeyId: string;
  wrapped: Buffer;
}

/** Issues data keys wrapped for their owner, unwraps them for reads, and re-wraps them on rotation. */
@Injectable()
export class DataKeyService {
  private readonly envelope = new Envelope();
  /**
   * Unwrapped data keys by id: saves a read of the row and an unwrap on every download. A
   * data key never changes (rotation re-wraps it, the key stays); a destroyed one is
   * dropped here at once, and on every other process when the change feed announces it
   * (deletion is cryptographic: no process keeps a key the database no longer holds).
   */
  private readonly opened = boundedCache<string, Buffer>({ max: 10_000, ownBuffers: true });

  constructor(
    private readonly ring: KeyRing,
    private readonly keys: KeysRepository,
    changes: ChangeFeed,
  ) {
    changes.subscribe(DATA_KEY_CHANGES, (change) =>
      change === 'reset' ? this.opened.clear() : this.opened.delete(change.id),
    );
  }

  /** Drops unwrapped copies of keys this process has just destroyed. */
  forget(dataKeyIds: string[]): void {
    for (const id of dataKeyIds) this.opened.delete(id);
  }

  async issue(ownerId: string): Promise<FreshDataKey> {
    const id = randomUUID();
    const key = newDataKey();
    const master = this.ring.current;
    const userKey = await this.envelope.userKey(master, ownerId, await this.keys.saltFor(ownerId, newSalt));
    const wrapped = this.envelope.wrap(userKey, key, { dataKeyId: id, ownerId, masterKeyId: master.id });
    this.opened.set(id, key);
    return { id, key, masterKeyId: master.id, wrapped };
  }

  /** A key issued earlier and kept wrapped outside the database (a resumable upload's, until its commit stores it). */
  async reopen(ownerId: string, kept: { id: string; masterKeyId: string; wrapped: Buffer }): Promise<FreshDataKey> {
    const master = this.ring.get(kept.masterKeyId);
    const userKey = await this.envelope.userKey(master, ownerId, await this.keys.saltFor(ownerId, newSalt));
    const key = this.envelope.unwrap(userKey, kept.wrapped, {
      dataKeyId: kept.id,
      ownerId,
      masterKeyId: kept.masterKeyId,
    });
    return { ...kept, key };
  }

  async open(dataKeyId: string): Promise<Buffer> {
    const cached = this.opened.get(dataKeyId);
    if (cached) return cached;
    const row = await this.keys.findDataKey(dataKeyId);
    if (!row) throw new DecryptionError('data key missing');
    const master = this.ring.get(row.masterKeyId);
    const userKey = await this.envelope.userKey(master, row.ownerId, await this.keys.saltFor(row.ownerId, newSalt));
    const key = this.envelope.unwrap(userKey, Buffer.from(row.wrapped), {
      dataKeyId: row.id,
      ownerId: row.ownerId,
      masterKeyId: row.masterKeyId,
    });
    this.opened.set(dataKeyId, key);
    return key;
  }

  /**
   * Re-wraps every data key not under the current master key, in batches; blobs are not
   * touched. Safe to stop and run again: each key is updated alone and only if unchanged.
   */
  async rotateAll(onProgress: (done: number) => void = () => {}, batchSize = 200): Promise<{ rewrapped: number }> {
    const current = this.ring.current;
    let rewrapped = 0;
    let after: string | undefined;
    for (;;) {
      const batch = await this.keys.staleDataKeys(current.id, after, batchSize);
      if (!batch.length) return { rewrapped };
      for (const row of batch) {
        const context = { dataKeyId: row.id, ownerId: row.ownerId };
        const salt = await this.keys.saltFor(row.ownerId, newSalt);
        const oldKey = await this.envelope.userKey(this.ring.get(row.masterKeyId), row.ownerId, salt);
        const dataKey = this.envelope.unwrap(oldKey, Buffer.from(row.wrapped), {
          ...context,
          masterKeyId: row.masterKeyId,
        });
        const newKey = await this.envelope.userKey(current, row.ownerId, salt);
        const wrapped = this.envelope.wrap(newKey, dataKey, { ...context, masterKeyId: current.id });
        if (await this.keys.rewrap(row.id, row.masterKeyId, current.id, wrapped)) rewrapped++;
      }
      after = batch[batch.length - 1].id;
      onProgress(rewrapped);
    }
  }
}
