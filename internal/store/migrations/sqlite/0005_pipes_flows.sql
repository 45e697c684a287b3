-- Pipes, their flows and every saved version of a flow's definition
-- (DESIGN §3). A flow carries its project as well as its pipe, so every
-- query can be scoped by project; the composite foreign key keeps the two
-- in agreement.

CREATE TABLE pipes (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    -- {"enabled","capture","sensitive","auto_off_hours"}, validated by
    -- package pipeline; new pipes start from the project's defaults.
    console_log TEXT NOT NULL DEFAULT '{}',
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    UNIQUE (project_id, name),
    UNIQUE (project_id, id)
);

CREATE TABLE flows (
    id         TEXT PRIMARY KEY,
    pipe_id    TEXT NOT NULL,
    project_id TEXT NOT NULL,
    name       TEXT NOT NULL,
    enabled    BOOLEAN NOT NULL DEFAULT 0,
    -- The current definition, canonical JSON; the same text as its row in
    -- flow_versions.
    definition TEXT NOT NULL,
    version    INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    created_by TEXT NOT NULL,
    UNIQUE (pipe_id, name),
    FOREIGN KEY (project_id, pipe_id) REFERENCES pipes(project_id, id) ON DELETE CASCADE
);
CREATE INDEX flows_project_idx ON flows(project_id);

-- Every definition a flow was ever saved with. Rows are only added: a
-- restore adds a new version equal to an old one (restored_from).
-- saved_by is a user ID, kept without a foreign key so history outlives
-- the account.
CREATE TABLE flow_versions (
    flow_id       TEXT NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    version       INTEGER NOT NULL,
    definition    TEXT NOT NULL,
    saved_at      TIMESTAMP NOT NULL,
    saved_by      TEXT NOT NULL,
    restored_from INTEGER,
    PRIMARY KEY (flow_id, version)
);
