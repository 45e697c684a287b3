-- Projects, their plans, user groups and grants (DESIGN §3-§4).

CREATE TABLE plans (
    id                         TEXT PRIMARY KEY,
    name                       TEXT NOT NULL UNIQUE,
    run_log_retention_days     INTEGER NOT NULL,
    console_log_retention_days INTEGER NOT NULL,
    audit_retention_days       INTEGER NOT NULL,
    limits                     TEXT NOT NULL DEFAULT '{}',
    is_default                 BOOLEAN NOT NULL DEFAULT 0,
    created_at                 TIMESTAMP NOT NULL
);
INSERT INTO plans (id, name, run_log_retention_days, console_log_retention_days, audit_retention_days, limits, is_default, created_at)
VALUES ('default', 'Default', 30, 7, 365, '{}', 1, CURRENT_TIMESTAMP);

CREATE TABLE projects (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    owner_id   TEXT NOT NULL REFERENCES users(id),
    plan_id    TEXT NOT NULL REFERENCES plans(id),
    settings   TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX projects_owner_idx ON projects(owner_id);

CREATE TABLE user_groups (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES user_groups(id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    added_at TIMESTAMP NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user_idx ON group_members(user_id);

-- A grant gives one user or one group a role on one project. The owner
-- holds no grant: ownership is projects.owner_id.
CREATE TABLE grants (
    id         TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id    TEXT REFERENCES users(id) ON DELETE CASCADE,
    group_id   TEXT REFERENCES user_groups(id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'standard')),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK ((user_id IS NULL) <> (group_id IS NULL)),
    UNIQUE (project_id, user_id),
    UNIQUE (project_id, group_id)
);
CREATE INDEX grants_user_idx ON grants(user_id);
CREATE INDEX grants_group_idx ON grants(group_id);

CREATE INDEX audit_events_at_idx ON audit_events(at);
