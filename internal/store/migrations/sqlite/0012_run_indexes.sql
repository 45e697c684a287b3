-- Lighter run rows (issue 6, W2): every dynamic call writes a run, and
-- most runs are finished when written and have no parent. The status index
-- now holds only the runs the sweep and the scheduler look for (queued or
-- running), and the parent index only reprocess runs, so writing a finished
-- run touches two fewer index trees. Queries name the statuses literally
-- (status IN ('queued', 'running')) so the planner can use the index.

DROP INDEX runs_status_idx;
CREATE INDEX runs_active_idx ON runs(status) WHERE status IN ('queued', 'running');
DROP INDEX runs_parent_idx;
CREATE INDEX runs_parent_idx ON runs(parent_run_id) WHERE parent_run_id IS NOT NULL;
