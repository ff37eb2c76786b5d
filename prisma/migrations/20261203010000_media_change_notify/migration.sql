-- Every change to a media row or its previews is announced on the channel
-- `media_changes` (payload: the media id), delivered at commit to every process that
-- LISTENs: the in-memory media cache of each replica evicts the row. A trigger, so no
-- code path that changes media can forget to announce it.
CREATE FUNCTION announce_media_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'previews' THEN
    PERFORM pg_notify('media_changes', (CASE WHEN TG_OP = 'DELETE' THEN OLD.media_id ELSE NEW.media_id END)::text);
  ELSE
    PERFORM pg_notify('media_changes', (CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END)::text);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER media_changed AFTER UPDATE OR DELETE ON media
  FOR EACH ROW EXECUTE FUNCTION announce_media_change();
CREATE TRIGGER previews_changed AFTER INSERT OR UPDATE OR DELETE ON previews
  FOR EACH ROW EXECUTE FUNCTION announce_media_change();
