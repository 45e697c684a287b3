-- Invitations (issue 8): an instance administrator creates an account
-- with no usable password and a single-use link; the invited colleague
-- sets a password through it. Only the SHA-256 of the link's token is
-- stored. A new link for the same user deletes the unused old one.

CREATE TABLE invitations (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_by TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP
);
CREATE INDEX invitations_user_idx ON invitations(user_id);
