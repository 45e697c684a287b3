-- Schedules (DESIGN §5 trigger.schedules) and the switch that pauses a
-- whole pipe.
--
-- schedule_fires holds one row per due time of a flow's schedule that the
-- scheduler handled: the run it started, or why it started none. Its
-- primary key (flow, schedule index, due time) is what makes a schedule
-- fire once: a second scheduler (two leaders overlapping for a moment)
-- inserting the same due time changes nothing and starts nothing.
CREATE TABLE schedule_fires (
    flow_id        TEXT NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    -- the position of the schedule in trigger.schedules
    schedule_index INTEGER NOT NULL,
    -- the due time, in UTC
    fire_at        TIMESTAMPTZ NOT NULL,
    -- the schedule as it was: "*/15 * * * * America/Chicago"
    schedule       TEXT NOT NULL,
    -- started | skipped (a run of the flow was still going) | missed
    -- (due times while no scheduler ran: one row for the whole gap)
    outcome        TEXT NOT NULL,
    -- started: the new run; skipped: the run still going. No foreign key:
    -- the firing stays on record when the run is deleted.
    run_id         TEXT,
    reason         TEXT NOT NULL DEFAULT '',
    -- missed: how many due times the row stands for
    missed_count   INTEGER NOT NULL DEFAULT 0,
    created_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (flow_id, schedule_index, fire_at)
);
CREATE INDEX schedule_fires_at_idx ON schedule_fires(fire_at);

-- A disabled pipe runs none of its flows on a schedule.
ALTER TABLE pipes ADD COLUMN enabled BOOLEAN NOT NULL DEFAULT true;

-- The secret that signs a project's alert webhooks (HMAC-SHA256), sealed
-- with the keyring like connection secrets (AAD: project_alert_secrets,
-- <project id>, webhook_secret) and re-sealed by key rotation.
CREATE TABLE project_alert_secrets (
    project_id          TEXT PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
    webhook_secret      TEXT NOT NULL DEFAULT '',
    webhook_secret_term INTEGER NOT NULL DEFAULT 0,
    created_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX project_alert_secrets_term_idx ON project_alert_secrets(webhook_secret_term);
