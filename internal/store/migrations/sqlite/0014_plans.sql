-- Plans that bound retention (issue 7): free, standard and enterprise
-- beside the default plan, which stays the default. --plan-retention
-- changes their days at start-up.

INSERT INTO plans (id, name, run_log_retention_days, console_log_retention_days, audit_retention_days, limits, is_default, created_at)
VALUES ('free', 'Free', 7, 3, 90, '{}', 0, CURRENT_TIMESTAMP),
       ('standard', 'Standard', 30, 7, 365, '{}', 0, CURRENT_TIMESTAMP),
       ('enterprise', 'Enterprise', 90, 30, 730, '{}', 0, CURRENT_TIMESTAMP);

-- Retention deletes the oldest audit events as a prefix of the chain; the
-- anchor remembers the last event it deleted, so the first event kept
-- must name its hash as prev_hash (one row, replaced on every purge).
CREATE TABLE audit_anchor (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    through_seq  BIGINT NOT NULL,
    through_hash TEXT NOT NULL,
    through_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);
