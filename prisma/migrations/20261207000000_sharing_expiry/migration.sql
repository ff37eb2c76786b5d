-- Sharing, expiry and cryptographic deletion (docs/behaviour.md, "Sharing, expiry and deletion").

-- Disappearing media: from expires_at on every read answers 404, and the worker deletes it.
ALTER TABLE media ADD COLUMN expires_at TIMESTAMPTZ(3);
CREATE INDEX media_expires_at_idx ON media (expires_at) WHERE expires_at IS NOT NULL;

-- The same bytes are stored once per owner only among media that do not expire: a re-upload
-- of a disappearing file is a new media with its own expiry, never the old one brought back.
DROP INDEX "media_owner_id_original_sha256_key";
CREATE UNIQUE INDEX "media_owner_id_original_sha256_key" ON media (owner_id, original_sha256) WHERE expires_at IS NULL;
CREATE INDEX media_owner_id_original_sha256_idx ON media (owner_id, original_sha256);

-- A grant: `user_id` may read `media_id` because it was sent in `conversation_id`
-- (messaging-service's GrantAccess). Revoking a user from a conversation removes exactly
-- the grants made through it; a grant through another conversation still stands.
CREATE TABLE media_grants (
  media_id        UUID           NOT NULL REFERENCES media (id) ON DELETE CASCADE,
  conversation_id TEXT           NOT NULL,
  user_id         TEXT           NOT NULL,
  granted_by      TEXT           NOT NULL,
  created_at      TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  PRIMARY KEY (media_id, user_id, conversation_id)
);
CREATE INDEX media_grants_conversation_idx ON media_grants (conversation_id, user_id);

-- A grant taken back (revoked, or gone with its media) is announced on `grant_changes`
-- (payload: media id ':' user id): every replica drops its cached "this user may read it".
CREATE FUNCTION announce_grant_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('grant_changes', OLD.media_id::text || ':' || OLD.user_id);
  RETURN NULL;
END $$;
CREATE TRIGGER media_grant_removed AFTER DELETE ON media_grants
  FOR EACH ROW EXECUTE FUNCTION announce_grant_removed();

-- What was deleted, by whom it was owned: a repeated gRPC DeleteMedia by its owner succeeds
-- (idempotent) where an id that never existed is NOT_FOUND. No key, no content: just the id.
CREATE TABLE deleted_media (
  id         UUID           PRIMARY KEY,
  owner_id   TEXT           NOT NULL,
  deleted_at TIMESTAMPTZ(3) NOT NULL DEFAULT now()
);
CREATE INDEX deleted_media_deleted_at_idx ON deleted_media (deleted_at);

-- A destroyed data key is announced on `data_key_changes` (payload: its id), so that no
-- process keeps an unwrapped copy of it: deletion is cryptographic on every replica.
CREATE FUNCTION announce_data_key_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('data_key_changes', OLD.id::text);
  RETURN NULL;
END $$;
CREATE TRIGGER data_key_deleted AFTER DELETE ON data_keys
  FOR EACH ROW EXECUTE FUNCTION announce_data_key_deleted();

-- A blob no row refers to any more (its media or preview deleted, or replaced by a
-- worker's stored version) is announced on `blob_changes` (payload: the blob key), so every
-- replica drops its cached ciphertext of it.
CREATE FUNCTION announce_blob_released() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' OR OLD.blob_key IS DISTINCT FROM NEW.blob_key THEN
    PERFORM pg_notify('blob_changes', OLD.blob_key);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER media_blob_released AFTER UPDATE OR DELETE ON media
  FOR EACH ROW EXECUTE FUNCTION announce_blob_released();
CREATE TRIGGER preview_blob_released AFTER UPDATE OR DELETE ON previews
  FOR EACH ROW EXECUTE FUNCTION announce_blob_released();

-- commit_upload (see 20261203040000_commit_upload_moderation) stores expires_at and
-- reuses only a copy that does not expire, for an upload that does not expire.
CREATE OR REPLACE FUNCTION commit_upload(p_reservation UUID, p_quota BIGINT, p_media JSONB, p_keys JSONB, p_previews JSONB)
RETURNS TABLE (duplicate_id TEXT, fits BOOLEAN, created_at TIMESTAMPTZ) LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_owner TEXT := p_media->>'owner_id';
  v_media UUID := (p_media->>'id')::uuid;
  v_size BIGINT := (p_media->>'size')::bigint;
BEGIN
  INSERT INTO usage (owner_id, updated_at) VALUES (v_owner, now())
    ON CONFLICT (owner_id) DO UPDATE SET owner_id = EXCLUDED.owner_id;
  -- One statement for the rest: the data-modifying CTEs run only when `go` has a row, and
  -- foreign keys are checked at its end, so the media may reference keys inserted beside it.
  RETURN QUERY
  WITH dup AS (
    -- Only a copy that does not expire is reused, and only by an upload that does not expire:
    -- a disappearing copy is never handed back as permanent, nor a permanent one as disappearing.
    SELECT id FROM media WHERE owner_id = v_owner AND original_sha256 = p_media->>'original_sha256'
      AND expires_at IS NULL AND p_media->>'expires_at' IS NULL
  ), fits AS (
    SELECT (SELECT used_bytes FROM usage WHERE owner_id = v_owner)
      + (SELECT coalesce(sum(bytes), 0) FROM quota_reservations WHERE owner_id = v_owner AND id <> p_reservation)
      + v_size <= p_quota AS ok
  ), go AS (
    SELECT 1 FROM fits WHERE ok AND NOT EXISTS (SELECT 1 FROM dup)
  ), new_keys AS (
    INSERT INTO data_keys (id, owner_id, master_key_id, wrapped, updated_at)
    SELECT k.id, v_owner, k.master_key_id, decode(k.wrapped, 'hex'), now()
    FROM go, jsonb_to_recordset(p_keys) AS k(id UUID, master_key_id TEXT, wrapped TEXT)
  ), new_media AS (
    INSERT INTO media (id, owner_id, type, status, mime_type, original_mime_type, original_name, original_size, original_sha256,
                       original_md5, size, sha256, md5, metadata, blob_key, data_key_id, phashes, needs_review, review_reason, expires_at, updated_at)
    SELECT v_media, v_owner, (p_media->>'type')::"MediaType", (p_media->>'status')::"MediaStatus", p_media->>'mime_type',
           p_media->>'original_mime_type', p_media->>'original_name', (p_media->>'original_size')::bigint, p_media->>'original_sha256',
           p_media->>'original_md5', v_size, p_media->>'sha256', p_media->>'md5', p_media->'metadata', p_media->>'blob_key',
           (p_media->>'data_key_id')::uuid,
           ARRAY(SELECT jsonb_array_elements_text(coalesce(p_media->'phashes', '[]'))::bigint),
           p_media->>'review_reason' IS NOT NULL, p_media->>'review_reason', (p_media->>'expires_at')::timestamptz, now()
    FROM go
    RETURNING created_at
  ), new_previews AS (
    INSERT INTO previews (id, media_id, size, width, height, mime_type, bytes, blob_key, data_key_id)
    SELECT p.id, v_media, p.size, p.width, p.height, p.mime_type, p.bytes, p.blob_key, p.data_key_id
    FROM go, jsonb_to_recordset(p_previews) AS p(id UUID, size INTEGER, width INTEGER, height INTEGER, mime_type TEXT, bytes BIGINT, blob_key TEXT, data_key_id UUID)
  ), counted AS (
    UPDATE usage SET used_bytes = used_bytes + v_size, file_count = file_count + 1, updated_at = now()
    WHERE owner_id = v_owner AND EXISTS (SELECT 1 FROM go)
  ), today AS (
    INSERT INTO daily_uploads (owner_id, day, count)
    SELECT v_owner, (now() AT TIME ZONE 'UTC')::date, 1 FROM go
    ON CONFLICT (owner_id, day) DO UPDATE SET count = daily_uploads.count + 1
  ), consumed AS (
    DELETE FROM quota_reservations WHERE id = p_reservation AND EXISTS (SELECT 1 FROM go)
  )
  SELECT (SELECT id::text FROM dup), (SELECT ok FROM fits), (SELECT created_at FROM new_media);
END $$;
