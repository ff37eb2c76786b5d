import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { PrismaService } from './prisma.service.js';

/** The channel a trigger announces blocklist changes on, payload the entry id (migration 20261203030000). */
export const BLOCKLIST_CHANGES = 'blocklist_changes';

export type HashAlgorithm = 'sha256' | 'md5' | 'phash';
export type BlocklistSource = 'admin' | 'moderation-service';

/** A hash as stored and compared: lowercase hex of 64 (sha256), 32 (md5) or 16 (phash) digits. */
export interface BlockedHash {
  algorithm: HashAlgorithm;
  hash: string;
}

/** What an in-memory index keeps of an entry. */
export interface IndexedEntry {
  id: string;
  reason: string;
  hashes: BlockedHash[];
}

export interface BlocklistEntry extends IndexedEntry {
  source: BlocklistSource;
  mediaId: string | null;
  createdBy: string | null;
  createdAt: Date;
}

export interface NewEntry {
  /** Distinct, valid, lowercase: the caller checked them. */
  hashes: BlockedHash[];
  reason: string;
  source: BlocklistSource;
  mediaId?: string;
  createdBy?: string;
}

export interface HashRow extends BlockedHash {
  entryId: string;
}

interface EntryRow {
  id: string;
  reason: string;
  source: BlocklistSource;
  media_id: string | null;
  created_by: string | null;
  created_at: Date;
  algorithms: string[] | null;
  hashes: string[] | null;
}

/**
 * Blocklist entries and their hashes, and the media matching hashes: quarantining every
 * user's copies of a blocked file, and finding a user's own copy (hash-check). pHashes are
 * unsigned 64-bit in code, signed BIGINT (the same bits) in media rows.
 */
@Injectable()
export class BlocklistRepository {
  constructor(private readonly prisma: PrismaService) {}

  /** Entries (id and reason) in id order after `after`, at most `limit`: the start-up load pages through them. */
  async entryPage(after: string | null, limit: number): Promise<{ id: string; reason: string }[]> {
    return this.prisma.$queryRaw`
      SELECT e.id::text, e.reason FROM blocklist_entries e
      WHERE e.id > coalesce(${after}::uuid, '00000000-0000-0000-0000-000000000000') ORDER BY e.id LIMIT ${limit}::int`;
  }

  /** Hashes in primary key order after `after`, at most `limit`: the start-up load pages through them (an index scan each). */
  async hashPage(after: HashRow | null, limit: number): Promise<HashRow[]> {
    return this.prisma.$queryRaw`
      SELECT entry_id::text AS "entryId", algorithm, hash FROM blocklist_hashes
      WHERE (algorithm, hash, entry_id) > (${after?.algorithm ?? ''}, ${after?.hash ?? ''}, coalesce(${after?.entryId ?? null}::uuid, '00000000-0000-0000-0000-000000000000'))
      ORDER BY algorithm, hash, entry_id LIMIT ${limit}::int`;
  }

  /** The entries of these ids that still exist (absent ones were deleted). */
  async entries(ids: string[]): Promise<IndexedEntry[]> {
    const rows = await this.prisma.$queryRaw<EntryRow[]>`
      SELECT e.id::text, e.reason, array_agg(h.algorithm) AS algorithms, array_agg(h.hash) AS hashes
      FROM blocklist_entries e JOIN blocklist_hashes h ON h.entry_id = e.id
      WHERE e.id = ANY(${ids}::uuid[]) GROUP BY e.id, e.reason`;
    return rows.map(toIndexed);
  }

  /**
   * Inserts the entry and its hashes, then quarantines every media (any owner) not yet
   * quarantined that matches one of them: sha256 or md5 of the upload or of the stored
   * version, or a pHash within `maxDistance` bits; one transaction. An entry of
   * moderation-service with exactly these hashes is reused (`created: false`), so a
   * repeated verdict does not pile up entries.
   */
  async insert(
    input: NewEntry,
    maxDistance: number,
  ): Promise<{ entry: BlocklistEntry; created: boolean; quarantined: string[] }> {
    const algorithms = input.hashes.map((h) => h.algorithm);
    const hashes = input.hashes.map((h) => h.hash);
    return this.prisma.$transaction(async (tx) => {
      let existing: EntryRow | undefined;
      if (input.source === 'moderation-service') {
        const key = input.hashes
          .map((h) => `${h.algorithm}:${h.hash}`)
          .sort()
          .join(',');
        // Two replicas told the same verdict at once must not both insert it.
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`blocklist:${key}`}, 0))`;
        [existing] = await tx.$queryRaw<EntryRow[]>`
          SELECT e.id::text, e.reason, e.source, e.media_id::text, e.created_by, e.created_at,
                 array_agg(h.algorithm ORDER BY h.algorithm, h.hash) AS algorithms, array_agg(h.hash ORDER BY h.algorithm, h.hash) AS hashes
          FROM blocklist_entries e JOIN blocklist_hashes h ON h.entry_id = e.id
          WHERE e.source = 'moderation-service'
            AND e.id IN (SELECT entry_id FROM blocklist_hashes WHERE algorithm = ${algorithms[0]} AND hash = ${hashes[0]})
          GROUP BY e.id
          HAVING array_agg(h.algorithm || ':' || h.hash ORDER BY h.algorithm || ':' || h.hash) = ${key.split(',')}::text[]
          LIMIT 1`;
      }
      let row = existing;
      if (!row) {
        [row] = await tx.$queryRaw<EntryRow[]>`
          WITH entry AS (
            INSERT INTO blocklist_entries (id, reason, source, media_id, created_by)
            VALUES (${randomUUID()}::uuid, ${input.reason}, ${input.source}, ${input.mediaId ?? null}::uuid, ${input.createdBy ?? null})
            RETURNING *
          ), hashes AS (
            INSERT INTO blocklist_hashes (entry_id, algorithm, hash)
            SELECT entry.id, a, h FROM entry, unnest(${algorithms}::text[], ${hashes}::text[]) AS x(a, h)
          )
          SELECT id::text, reason, source, media_id::text, created_by, created_at, ${algorithms}::text[] AS algorithms, ${hashes}::text[] AS hashes FROM entry`;
      }
      const quarantined = await quarantine(tx, row.id, input.hashes, maxDistance);
      return { entry: toEntry(row), created: !existing, quarantined };
    });
  }

  /** Deletes the entry and its hashes; the media it quarantined (answered) are released by the foreign key (ON DELETE SET NULL). */
  async delete(id: string): Promise<{ deleted: boolean; released: string[] }> {
    const rows = await this.prisma.$queryRaw<{ released: string[] | null }[]>`
      WITH released AS (SELECT id FROM media WHERE quarantined_by = ${id}::uuid), gone AS (DELETE FROM blocklist_entries WHERE id = ${id}::uuid RETURNING id)
      SELECT (SELECT array_agg(id::text) FROM released) AS released FROM gone`;
    return { deleted: rows.length > 0, released: rows[0]?.released ?? [] };
  }

  /**
   * The owner's own media, not quarantined nor expired, whose uploaded or stored bytes have this sha256
   * or md5, or with a pHash within `maxDistance` bits (the nearest); the oldest on a tie.
   */
  async ownMatch(ownerId: string, wanted: BlockedHash, maxDistance: number): Promise<string | null> {
    const { algorithm, hash } = wanted;
    let rows: { id: string }[];
    if (algorithm === 'phash') {
      rows = await this.prisma.$queryRaw`
        SELECT m.id::text FROM media m
        CROSS JOIN LATERAL (SELECT min(bit_count((p # ${signed(hash)}::bigint)::bit(64))) AS distance FROM unnest(m.phashes) p) d
        WHERE m.owner_id = ${ownerId} AND m.quarantined_by IS NULL AND (m.expires_at IS NULL OR m.expires_at > now()) AND d.distance <= ${maxDistance}
        ORDER BY d.distance, m.created_at, m.id LIMIT 1`;
    } else if (algorithm === 'sha256') {
      rows = await this.prisma.$queryRaw`
        SELECT id::text FROM media WHERE owner_id = ${ownerId} AND quarantined_by IS NULL AND (expires_at IS NULL OR expires_at > now())
          AND (original_sha256 = ${hash} OR sha256 = ${hash})
        ORDER BY original_sha256 = ${hash} DESC, created_at, id LIMIT 1`;
    } else {
      rows = await this.prisma.$queryRaw`
        SELECT id::text FROM media WHERE owner_id = ${ownerId} AND quarantined_by IS NULL AND (expires_at IS NULL OR expires_at > now())
          AND (original_md5 = ${hash} OR md5 = ${hash})
        ORDER BY original_md5 = ${hash} DESC, created_at, id LIMIT 1`;
    }
    return rows[0]?.id ?? null;
  }
}

type Transaction = Pick<PrismaService, '$queryRaw'>;

/** Sets `quarantined_by` on the matching media that have none; answers their ids. */
async function quarantine(
  tx: Transaction,
  entryId: string,
  hashes: BlockedHash[],
  maxDistance: number,
): Promise<string[]> {
  const of = (algorithm: HashAlgorithm) => hashes.filter((h) => h.algorithm === algorithm).map((h) => h.hash);
  const sha256 = of('sha256');
  const md5 = of('md5');
  const phashes = of('phash').map(signed);
  // Separate arms, so each exact one uses its index; the pHash arm scans media with pHashes, and only when there are pHashes to match.
  const rows = await tx.$queryRaw<{ id: string }[]>`
    WITH hits AS (
      SELECT id FROM media WHERE original_sha256 = ANY(${sha256}::text[])
      UNION SELECT id FROM media WHERE sha256 = ANY(${sha256}::text[])
      UNION SELECT id FROM media WHERE original_md5 = ANY(${md5}::text[])
      UNION SELECT id FROM media WHERE md5 = ANY(${md5}::text[])
      UNION SELECT m.id FROM media m
        WHERE cardinality(${phashes}::bigint[]) > 0 AND cardinality(m.phashes) > 0
          AND EXISTS (SELECT 1 FROM unnest(m.phashes) p, unnest(${phashes}::bigint[]) q WHERE bit_count((p # q)::bit(64)) <= ${maxDistance})
    )
    UPDATE media SET quarantined_by = ${entryId}::uuid, updated_at = now()
    WHERE id IN (SELECT id FROM hits) AND quarantined_by IS NULL
    RETURNING id::text`;
  return rows.map((r) => r.id);
}

/** A 16-hex-digit pHash as the signed 64-bit decimal a BIGINT column holds. */
const signed = (hex: string): string => BigInt.asIntN(64, BigInt(`0x${hex}`)).toString();

function toIndexed(row: EntryRow): IndexedEntry {
  const algorithms = row.algorithms ?? [];
  const hashes = row.hashes ?? [];
  return {
    id: row.id,
    reason: row.reason,
    hashes: algorithms.map((algorithm, i) => ({ algorithm: algorithm as HashAlgorithm, hash: hashes[i] })),
  };
}

function toEntry(row: EntryRow): BlocklistEntry {
  return {
    ...toIndexed(row),
    source: row.source,
    mediaId: row.media_id,
    createdBy: row.created_by,
    createdAt: row.created_at,
  };
}
