-- Service consumers: external systems that call flows (DESIGN §3, §8).
-- auth holds the plain auth settings (JSON); a JWT HS or HMAC secret is
-- sealed by the keyring in secret (bound to the row), a Basic secret is
-- kept only as secret_hash (SHA-256 of a 256-bit random secret).
CREATE TABLE consumers (
    id           TEXT PRIMARY KEY,
    project_id   TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    auth_type    TEXT NOT NULL,
    auth         TEXT NOT NULL DEFAULT '{}',
    username     TEXT NOT NULL DEFAULT '',
    secret       TEXT NOT NULL DEFAULT '',
    secret_term  INTEGER NOT NULL DEFAULT 0,
    secret_hash  TEXT NOT NULL DEFAULT '',
    flows        TEXT NOT NULL DEFAULT '[]',
    allowed_ips  TEXT NOT NULL DEFAULT '[]',
    rate_per_sec DOUBLE PRECISION NOT NULL DEFAULT 0,
    rate_burst   INTEGER NOT NULL DEFAULT 0,
    failed_auths BIGINT NOT NULL DEFAULT 0,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    UNIQUE (project_id, name)
);
CREATE INDEX consumers_term_idx ON consumers(secret_term);
CREATE UNIQUE INDEX consumers_username_idx ON consumers(username) WHERE username <> '';
