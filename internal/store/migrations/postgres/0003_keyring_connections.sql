-- The credential keyring and connections to other systems (DESIGN §3, §8).

-- One data key per term, sealed under the master key. The newest term
-- encrypts; every term still present decrypts.
CREATE TABLE keyring_terms (
    term       INTEGER PRIMARY KEY,
    sealed_key TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- A key rotation: re-encrypting every stored secret under a new term,
-- resumable from progress (a JSON cursor per table).
CREATE TABLE keyring_rotations (
    term        INTEGER PRIMARY KEY,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    progress    TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE connections (
    id           TEXT PRIMARY KEY,
    project_id   TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL,
    settings     TEXT NOT NULL DEFAULT '{}',
    auth         TEXT NOT NULL DEFAULT '{}',
    secrets      TEXT NOT NULL DEFAULT '',
    secrets_term INTEGER NOT NULL DEFAULT 0,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (project_id, name)
);
CREATE INDEX connections_term_idx ON connections(secrets_term);

-- Which term sealed a user's TOTP secret (0: none or not yet sealed).
ALTER TABLE users ADD COLUMN totp_term INTEGER NOT NULL DEFAULT 0;
