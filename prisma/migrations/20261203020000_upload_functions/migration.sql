-- The two ledger steps of an upload as one round trip each. Both first lock the owner's
-- usage row (creating it if needed); in a VOLATILE function every statement takes a new
-- snapshot, so the checks after the lock see everything committed before it was granted
-- and concurrent uploads of one owner can never overshoot the daily count or the quota.

-- Opens a reservation (one daily slot, no bytes yet) when the owner still has a slot
-- today and room for `min_bytes`; answers which check failed otherwise.
CREATE FUNCTION reserve_upload(p_owner TEXT, p_reservation UUID, p_process_tag TEXT, p_daily_limit INTEGER, p_quota BIGINT, p_min_bytes BIGINT)
RETURNS TABLE (daily_ok BOOLEAN, quota_ok BOOLEAN) LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
  INSERT INTO usage (owner_id, updated_at) VALUES (p_owner, now())
    ON CONFLICT (owner_id) DO UPDATE SET owner_id = EXCLUDED.owner_id;
  RETURN QUERY
  WITH state AS (
    SELECT coalesce((SELECT count FROM daily_uploads WHERE owner_id = p_owner AND day = (now() AT TIME ZONE 'UTC')::date), 0)
             + (SELECT count(*) FROM quota_reservations WHERE owner_id = p_owner) < p_daily_limit AS daily_ok,
           (SELECT used_bytes FROM usage WHERE owner_id = p_owner)
             + (SELECT coalesce(sum(bytes), 0) FROM quota_reservations WHERE owner_id = p_owner)
             + p_min_bytes <= p_quota AS quota_ok
  ), inserted AS (
    INSERT INTO quota_reservations (id, owner_id, process_tag)
    SELECT p_reservation, p_owner, p_process_tag FROM state WHERE daily_ok AND quota_ok
  )
  SELECT daily_ok, quota_ok FROM state;
END $$;

-- Commits an upload: the same bytes already stored for the owner make it a duplicate
-- (answers that media's id), a size that no longer fits the quota refuses it (fits =
-- false); else the data keys, media and previews are inserted, usage and today's count
-- move, and the reservation is consumed (answers created_at). `p_media` holds the media
-- row's columns by name; `p_keys` and `p_previews` are arrays of objects.
CREATE FUNCTION commit_upload(p_reservation UUID, p_quota BIGINT, p_media JSONB, p_keys JSONB, p_previews JSONB)
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
                       original_md5, size, sha256, md5, metadata, blob_key, data_key_id, updated_at)
    SELECT v_media, v_owner, (p_media->>'type')::"MediaType", (p_media->>'status')::"MediaStatus", p_media->>'mime_type',
           p_media->>'original_mime_type', p_media->>'original_name', (p_media->>'original_size')::bigint, p_media->>'original_sha256',
           p_media->>'original_md5', v_size, p_media->>'sha256', p_media->>'md5', p_media->'metadata', p_media->>'blob_key',
           (p_media->>'data_key_id')::uuid, now()
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
