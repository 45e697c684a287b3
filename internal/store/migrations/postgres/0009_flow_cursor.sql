-- The incremental cursor state of a flow (DESIGN §3 "incremental cursor
-- state"): the largest cursor value an incremental read saw in the flow's
-- last run that completed or partially failed, which the next run's
-- source sends as its incremental param. Empty until such a run.
ALTER TABLE flows ADD COLUMN cursor_state TEXT NOT NULL DEFAULT '';
