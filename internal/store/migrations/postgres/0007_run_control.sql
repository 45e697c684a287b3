-- Run control (issue 5): a running run's heartbeat (written with its
-- counters, so a sweep can tell a run whose worker died), a cancel request
-- the node working the run sees at its next flush, and the entity IDs a
-- reprocess run fetches again (its job carries the run's ID only).

ALTER TABLE runs ADD COLUMN heartbeat_at TIMESTAMPTZ;
ALTER TABLE runs ADD COLUMN cancel_requested BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX runs_status_idx ON runs(status);
CREATE INDEX runs_parent_idx ON runs(parent_run_id);

CREATE TABLE run_reprocess_ids (
    run_id    TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    entity_id TEXT NOT NULL,
    PRIMARY KEY (run_id, entity_id)
);
