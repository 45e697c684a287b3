-- The bodies of async dynamic calls (DESIGN §6 POST /call), kept only
-- until their run takes them: sealed with the keyring (AAD: this table,
-- the run ID, "body"), written in the transaction that creates the run
-- and its job, and deleted when the run's job takes the body.
CREATE TABLE dynamic_bodies (
    run_id     TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    sealed     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
