-- commit_upload (see 20261203020000_upload_functions) also records the media's perceptual
-- hashes and, for media accepted unmoderated, that it awaits review.

-- Commits an upload: the same bytes already stored for the owner make it a duplicate
-- (answers that media's id), a size that no longer fits the quota refuses it (fits =
-- false); else the data keys, media and previews are inserted, usage and today's count
-- move, and the reservation is consumed (answers created_at). `p_media` holds the media
-- row's columns by name (`phashes` an array of signed 64-bit decimal strings;
-- `review_reason` set when the media awaits review); `p_keys` and `p_previews` are arrays of objects.
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
    SELECT id FROM media WHERE owner_id = v_owner AND original_sha256 = p_media->>'original_sha256'
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
                       original_md5, size, sha256, md5, metadata, blob_key, data_key_id, phashes, needs_review, review_reason, updated_at)
    SELECT v_media, v_owner, (p_media->>'type')::"MediaType", (p_media->>'status')::"MediaStatus", p_media->>'mime_type',
           p_media->>'original_mime_type', p_media->>'original_name', (p_media->>'original_size')::bigint, p_media->>'original_sha256',
           p_media->>'original_md5', v_size, p_media->>'sha256', p_media->>'md5', p_media->'metadata', p_media->>'blob_key',
           (p_media->>'data_key_id')::uuid,
           ARRAY(SELECT jsonb_array_elements_text(coalesce(p_media->'phashes', '[]'))::bigint),
           p_media->>'review_reason' IS NOT NULL, p_media->>'review_reason', now()
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
