-- Moderation (issue 8): the local blocklist, quarantine and review marks on media, and
-- the incidents of rejected uploads. Hashes are lowercase hex; a pHash (64-bit) is kept
-- in media and incidents as a BIGINT holding the unsigned hash's two's complement, so
-- `bit_count((a # b)::bit(64))` is the Hamming distance of two of them.

-- CreateTable: one blocked item (a hash set an admin, a moderator or moderation-service
-- asked to block). `media_id` is the media it was taken from, if any; no foreign key: the
-- media may be deleted later and the entry must stay.
CREATE TABLE "blocklist_entries" (
    "id" UUID NOT NULL,
    "reason" TEXT NOT NULL,
    "source" TEXT NOT NULL,
    "media_id" UUID,
    "created_by" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "blocklist_entries_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "blocklist_entries_source_check" CHECK ("source" IN ('admin', 'moderation-service'))
);

-- CreateTable: the hashes of an entry (an image's sha256 and md5 of the uploaded and the
-- stored version, and its pHash; a video's keyframe pHashes).
CREATE TABLE "blocklist_hashes" (
    "entry_id" UUID NOT NULL,
    "algorithm" TEXT NOT NULL,
    "hash" TEXT NOT NULL,
    CONSTRAINT "blocklist_hashes_pkey" PRIMARY KEY ("algorithm", "hash", "entry_id"),
    CONSTRAINT "blocklist_hashes_algorithm_check" CHECK ("algorithm" IN ('sha256', 'md5', 'phash')),
    CONSTRAINT "blocklist_hashes_hash_check" CHECK (
      "hash" ~ '^[0-9a-f]+$'
      AND length("hash") = CASE "algorithm" WHEN 'sha256' THEN 64 WHEN 'md5' THEN 32 ELSE 16 END)
);

-- The primary key's index, led by (algorithm, hash), is the index for matching a hash:
-- a separate one on (algorithm, hash) would duplicate it.
-- CreateIndex: the hashes of one entry (reloads and the cascade).
CREATE INDEX "blocklist_hashes_entry_id_idx" ON "blocklist_hashes"("entry_id");

-- AddForeignKey
ALTER TABLE "blocklist_hashes" ADD CONSTRAINT "blocklist_hashes_entry_id_fkey" FOREIGN KEY ("entry_id") REFERENCES "blocklist_entries"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Every change to an entry or its hashes is announced on `blocklist_changes` (payload:
-- the entry id) at commit, so each replica's in-memory blocklist index reloads that entry.
-- PostgreSQL folds identical notifications of one transaction into one.
CREATE FUNCTION announce_blocklist_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'blocklist_hashes' THEN
    PERFORM pg_notify('blocklist_changes', (CASE WHEN TG_OP = 'DELETE' THEN OLD.entry_id ELSE NEW.entry_id END)::text);
  ELSE
    PERFORM pg_notify('blocklist_changes', (CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END)::text);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER blocklist_entries_changed AFTER INSERT OR UPDATE OR DELETE ON blocklist_entries
  FOR EACH ROW EXECUTE FUNCTION announce_blocklist_change();
CREATE TRIGGER blocklist_hashes_changed AFTER INSERT OR UPDATE OR DELETE ON blocklist_hashes
  FOR EACH ROW EXECUTE FUNCTION announce_blocklist_change();

-- AlterTable: pHashes of an image (one) or a video's keyframes; the blocklist entry that
-- quarantined the media (hidden from its owner; lifted when the entry is deleted); a mark
-- for later review (accepted while moderation-service was unreachable, failure mode open).
ALTER TABLE "media"
    ADD COLUMN "phashes" BIGINT[] NOT NULL DEFAULT '{}',
    ADD COLUMN "quarantined_by" UUID,
    ADD COLUMN "needs_review" BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN "review_reason" TEXT;

-- AddForeignKey
ALTER TABLE "media" ADD CONSTRAINT "media_quarantined_by_fkey" FOREIGN KEY ("quarantined_by") REFERENCES "blocklist_entries"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- CreateIndex: matching a hash against every user's media (blocking, quarantining).
CREATE INDEX "media_sha256_idx" ON "media"("sha256");
CREATE INDEX "media_md5_idx" ON "media"("md5");
CREATE INDEX "media_original_md5_idx" ON "media"("original_md5");
CREATE INDEX "media_original_sha256_idx" ON "media"("original_sha256");
-- CreateIndex: the ON DELETE SET NULL of an entry finds its quarantined media.
CREATE INDEX "media_quarantined_by_idx" ON "media"("quarantined_by") WHERE "quarantined_by" IS NOT NULL;
-- CreateIndex: the review queue.
CREATE INDEX "media_needs_review_idx" ON "media"("id") WHERE "needs_review";

-- CreateTable: one rejected upload (blocklist, moderation, malware, corrupt) or one
-- accepted for review: who, what was answered and why, and the hashes. Never the content.
CREATE TABLE "incidents" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "owner_id" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "code" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "sha256" TEXT,
    "md5" TEXT,
    "phashes" BIGINT[] NOT NULL DEFAULT '{}',
    "request_id" TEXT,
    "details" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "incidents_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "incidents_kind_check" CHECK ("kind" IN ('blocklist', 'moderation', 'malware', 'corrupt', 'review'))
);

-- CreateIndex
CREATE INDEX "incidents_owner_id_created_at_idx" ON "incidents"("owner_id", "created_at");
CREATE INDEX "incidents_created_at_idx" ON "incidents"("created_at");
