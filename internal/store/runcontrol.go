package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// BeginRun marks a queued or running run running for a job attempt. fresh
// starts it over (start time now, counters zero: the caller has cleared
// its failures and logs); otherwise the attempt goes on from the stored
// checkpoint and keeps the counters, failures and logs already stored. It
// reports false, changing nothing, when the run is no longer queued or
// running (cancelled, failed by a sweep, or deleted meanwhile).
func (q *Q) BeginRun(ctx context.Context, id string, fresh bool) (bool, error) {
	now := q.Now()
	query := `UPDATE runs SET status = $1, started_at = COALESCE(started_at, $2), heartbeat_at = $2
		WHERE id = $3 AND status IN ($4, $5)`
	if fresh {
		query = `UPDATE runs SET status = $1, started_at = $2, heartbeat_at = $2, read_count = 0, succeeded_count = 0,
			failed_count = 0, skipped_count = 0, checkpoint = NULL WHERE id = $3 AND status IN ($4, $5)`
	}
	res, err := q.q.ExecContext(ctx, query, RunRunning, now, id, RunQueued, RunRunning)
	if err != nil {
		return false, fmt.Errorf("store: begin run: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: begin run: %w", err)
	}
	return n == 1, nil
}

// HeartbeatRun records that the node working a running run is alive. It
// reports whether someone asked to cancel the run, and whether the run is
// still running (false: a sweep ended it, or it was deleted): either way
// the node should stop.
func (q *Q) HeartbeatRun(ctx context.Context, id string) (cancel, running bool, err error) {
	if _, err := q.q.ExecContext(ctx, `UPDATE runs SET heartbeat_at = $1 WHERE id = $2 AND status = $3`, q.Now(), id, RunRunning); err != nil {
		return false, false, fmt.Errorf("store: run heartbeat: %w", err)
	}
	var status string
	err = q.q.QueryRowContext(ctx, `SELECT status, cancel_requested FROM runs WHERE id = $1`, id).Scan(&status, &cancel)
	if errors.Is(err, sql.ErrNoRows) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("store: run heartbeat: %w", err)
	}
	return cancel, status == RunRunning, nil
}

// LastRunLogSeq is the seq of a run's last detail-log entry (0: none), so
// a resumed run numbers its entries after it.
func (q *Q) LastRunLogSeq(ctx context.Context, runID string) (int64, error) {
	var n int64
	if err := q.q.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM run_logs WHERE run_id = $1`, runID).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: last run log: %w", err)
	}
	return n, nil
}

// CancelRun cancels a run of a project: a queued run at once (its job
// finds it finished and does nothing), a running run by setting
// cancel_requested for the node working it. It returns the run as it was
// before. A run that already finished is left as it is; the caller tells
// by Finished.
func (q *Q) CancelRun(ctx context.Context, projectID, id, reason string) (*Run, error) {
	r, err := q.RunByID(ctx, projectID, id)
	if err != nil {
		return nil, err
	}
	switch r.Status {
	case RunQueued:
		err = q.execOne(ctx, "cancel run", `UPDATE runs SET status = $1, error = $2, finished_at = $3, cancel_requested = TRUE
			WHERE id = $4 AND status = $5`, RunCancelled, reason, q.Now(), id, RunQueued)
	case RunRunning:
		err = q.execOne(ctx, "cancel run", `UPDATE runs SET cancel_requested = TRUE WHERE id = $1 AND status = $2`, id, RunRunning)
	}
	if errors.Is(err, ErrNotFound) {
		// The worker moved it on between the read and the write; the
		// transaction's caller may retry.
		return nil, fmt.Errorf("store: cancel run: the run changed meanwhile: %w", ErrConflict)
	}
	return r, err
}

// StuckRun is a run a sweep found with no live worker, and why.
type StuckRun struct {
	Run    *Run
	Reason string
}

// liveJobStates are River job states in which a job will still run.
const liveJobStates = `('available', 'pending', 'running', 'retryable', 'scheduled')`

// StuckRuns lists queued or running runs that no worker will finish: a
// running run whose heartbeat (or start) is older than heartbeatBefore,
// and a queued or running run with no queue job of kind jobKind for it
// (args {"run_id": ...}) that will still run: the job was discarded after
// its last attempt, cancelled or deleted. Runs of sync dynamic calls have
// no job and are judged by their heartbeat only; they are running from
// the moment they exist, so a queued dynamic run is an async call's and
// is judged by its job like any other.
func (q *Q) StuckRuns(ctx context.Context, heartbeatBefore time.Time, jobKind string, limit int) ([]StuckRun, error) {
	if limit <= 0 {
		limit = 500
	}
	jobRunID := `j.args->>'run_id'`
	if q.dialect == SQLite {
		jobRunID = `json_extract(j.args, '$.run_id')`
	}
	rows, err := q.q.QueryContext(ctx, `SELECT `+runColumns+`,
		CASE WHEN status = $1 AND COALESCE(heartbeat_at, started_at, created_at) < $2 THEN 1 ELSE 0 END
		FROM runs WHERE status IN ('queued', 'running') AND (
			(status = $1 AND COALESCE(heartbeat_at, started_at, created_at) < $2)
			OR ((trigger_kind <> $4 OR status = $3) AND NOT EXISTS (SELECT 1 FROM river_job j WHERE j.kind = $5 AND `+jobRunID+` = runs.id AND j.state IN `+liveJobStates+`))
		) ORDER BY id LIMIT $6`, RunRunning, heartbeatBefore.UTC(), RunQueued, TriggerDynamic, jobKind, limit)
	if err != nil {
		return nil, fmt.Errorf("store: list stuck runs: %w", err)
	}
	defer rows.Close()
	var out []StuckRun
	for rows.Next() {
		var silent int
		r, err := scanRun(scanPlus{rows, &silent})
		if err != nil {
			return nil, fmt.Errorf("store: list stuck runs: %w", err)
		}
		s := StuckRun{Run: r}
		if silent == 1 {
			last := r.CreatedAt
			switch {
			case r.HeartbeatAt != nil:
				last = *r.HeartbeatAt
			case r.StartedAt != nil:
				last = *r.StartedAt
			}
			s.Reason = fmt.Sprintf("the worker running this run stopped reporting (last heard from at %s); it was probably killed. Start the flow again", last.Format(time.RFC3339))
		} else {
			s.Reason = "the queue job of this run is gone (discarded after its last attempt, or removed), so no worker will finish it. Start the flow again"
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// scanPlus scans a run's columns followed by more.
type scanPlus struct {
	rows interface{ Scan(...any) error }
	more *int
}

func (s scanPlus) Scan(dest ...any) error { return s.rows.Scan(append(dest, s.more)...) }

// FailStuckRun ends a queued or running run as failed with reason; a run
// that moved on meanwhile is left as it is (false).
func (q *Q) FailStuckRun(ctx context.Context, id, reason string) (bool, error) {
	status := RunFailed
	var cancel bool
	if err := q.q.QueryRowContext(ctx, `SELECT cancel_requested FROM runs WHERE id = $1`, id).Scan(&cancel); err != nil {
		return false, notFound(err, "run")
	}
	if cancel {
		// Someone asked to cancel it and its worker is gone: that is
		// what the user wanted.
		status, reason = RunCancelled, "cancelled (the worker running it was gone)"
	}
	res, err := q.q.ExecContext(ctx, `UPDATE runs SET status = $1, error = $2, finished_at = $3 WHERE id = $4 AND status IN ($5, $6)`,
		status, reason, q.Now(), id, RunQueued, RunRunning)
	if err != nil {
		return false, fmt.Errorf("store: fail stuck run: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: fail stuck run: %w", err)
	}
	return n == 1, nil
}
