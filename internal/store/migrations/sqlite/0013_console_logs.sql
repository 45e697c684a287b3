-- Console logs (issue 7): one row per run whose pipe captured a console
-- log. The log itself is a blob (gzip NDJSON sealed with the keyring, AAD
-- the log's ID) in the blob store under blob_key; the row says where, how
-- big, and what was captured. A run's deletion removes its rows; whoever
-- deletes runs deletes their blobs first.

CREATE TABLE console_logs (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    pipe_id     TEXT NOT NULL,
    flow_id     TEXT NOT NULL,
    run_id      TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    blob_key    TEXT NOT NULL,
    size        BIGINT NOT NULL DEFAULT 0,
    entries     BIGINT NOT NULL DEFAULT 0,
    -- JSON array of the capture kinds the log holds
    capture     TEXT NOT NULL DEFAULT '[]',
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX console_logs_project_idx ON console_logs(project_id, created_at);
CREATE INDEX console_logs_pipe_idx ON console_logs(pipe_id, created_at);
CREATE INDEX console_logs_run_idx ON console_logs(run_id);

-- The key that signs console-log download links, sealed with the keyring
-- (one row; made on first use, shared by every node).
CREATE TABLE link_keys (
    id          TEXT PRIMARY KEY,
    sealed      TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
