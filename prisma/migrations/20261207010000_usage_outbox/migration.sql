-- The transactional outbox of usage changes for user-service (USER_GRPC_URL): every change
-- of a user's stored bytes or file count writes a delta row in the transaction that makes
-- it (a trigger on `usage`, so no code path can forget), and workers deliver the rows with
-- UpdateStorageUsage, the row's id being the idempotency key (delta_id), retrying until
-- user-service acknowledges. Down for a while, it loses nothing; its totals converge.
CREATE TABLE usage_outbox (
  id              UUID           PRIMARY KEY DEFAULT gen_random_uuid(),
  owner_id        TEXT           NOT NULL,
  delta_bytes     BIGINT         NOT NULL,
  delta_files     INTEGER        NOT NULL,
  created_at      TIMESTAMPTZ(3) NOT NULL DEFAULT clock_timestamp(),
  attempts        INTEGER        NOT NULL DEFAULT 0,
  next_attempt_at TIMESTAMPTZ(3) NOT NULL DEFAULT now()
);
CREATE INDEX usage_outbox_next_attempt_at_idx ON usage_outbox (next_attempt_at);

CREATE FUNCTION record_usage_delta() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.used_bytes <> OLD.used_bytes OR NEW.file_count <> OLD.file_count THEN
    INSERT INTO usage_outbox (owner_id, delta_bytes, delta_files)
    VALUES (NEW.owner_id, NEW.used_bytes - OLD.used_bytes, NEW.file_count - OLD.file_count);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER usage_changed AFTER UPDATE ON usage
  FOR EACH ROW EXECUTE FUNCTION record_usage_delta();
