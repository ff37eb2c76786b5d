-- Which process runs which job: a job whose process is known to be gone is handed back to
-- the queue at once, instead of waiting for its expiry (JOB_EXPIRE_SECONDS).
CREATE TABLE job_claims (
  job_id      UUID        PRIMARY KEY,
  queue       TEXT        NOT NULL,
  process_tag TEXT        NOT NULL,
  claimed_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
