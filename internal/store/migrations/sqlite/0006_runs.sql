-- Runs of flows (DESIGN §5/§6): one row per run with its counters, the
-- records that failed in it, and the values its log steps kept.

CREATE TABLE runs (
    id            TEXT PRIMARY KEY,
    project_id    TEXT NOT NULL,
    flow_id       TEXT NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    pipe_id       TEXT NOT NULL,
    -- manual | schedule | dynamic | reprocess
    trigger_kind  TEXT NOT NULL,
    triggered_by  TEXT NOT NULL DEFAULT '',
    -- queued | running | completed | partially_failed | failed | cancelled
    status        TEXT NOT NULL,
    error         TEXT NOT NULL DEFAULT '',
    parent_run_id TEXT,
    created_at    TIMESTAMP NOT NULL,
    started_at    TIMESTAMP,
    finished_at   TIMESTAMP,
    read_count      BIGINT NOT NULL DEFAULT 0,
    succeeded_count BIGINT NOT NULL DEFAULT 0,
    failed_count    BIGINT NOT NULL DEFAULT 0,
    skipped_count   BIGINT NOT NULL DEFAULT 0,
    checkpoint    TEXT
);
CREATE INDEX runs_project_idx ON runs(project_id, created_at);
CREATE INDEX runs_flow_idx ON runs(flow_id, created_at);

CREATE TABLE run_failures (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id         TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    entity_id      TEXT NOT NULL DEFAULT '',
    stage          TEXT NOT NULL,
    error          TEXT NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 1,
    reprocessed_by TEXT
);
CREATE INDEX run_failures_run_idx ON run_failures(run_id);

CREATE TABLE run_logs (
    run_id    TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    seq       BIGINT NOT NULL,
    entity_id TEXT NOT NULL DEFAULT '',
    step      TEXT NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
