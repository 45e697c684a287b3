package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Run statuses.
const (
	RunQueued          = "queued"
	RunRunning         = "running"
	RunCompleted       = "completed"
	RunPartiallyFailed = "partially_failed"
	RunFailed          = "failed"
	RunCancelled       = "cancelled"
)

// Run triggers.
const (
	TriggerManual    = "manual"
	TriggerSchedule  = "schedule"
	TriggerDynamic   = "dynamic"
	TriggerReprocess = "reprocess"
)

// Run is one run of a flow with its counters.
type Run struct {
	ID          string
	ProjectID   string
	FlowID      string
	PipeID      string
	Trigger     string
	TriggeredBy string
	Status      string
	Error       string
	ParentRunID string
	CreatedAt   time.Time
	StartedAt   *time.Time
	FinishedAt  *time.Time
	Read        int64
	Succeeded   int64
	Failed      int64
	Skipped     int64
	Checkpoint  string
	// HeartbeatAt is when the node working the run last wrote to it.
	HeartbeatAt *time.Time
	// CancelRequested asks the node working the run to cancel it.
	CancelRequested bool
}

// Finished says whether the run reached a final status.
func (r *Run) Finished() bool {
	switch r.Status {
	case RunCompleted, RunPartiallyFailed, RunFailed, RunCancelled:
		return true
	}
	return false
}

// RunFailure is one failed source record of a run.
type RunFailure struct {
	ID            int64
	RunID         string
	EntityID      string
	Stage         string
	Error         string
	Attempts      int
	ReprocessedBy string
}

// RunLog is one value a log step kept.
type RunLog struct {
	RunID    string
	Seq      int64
	EntityID string
	Step     string
	Value    string
}

const runColumns = `id, project_id, flow_id, pipe_id, trigger_kind, triggered_by, status, error, COALESCE(parent_run_id, ''),
	created_at, started_at, finished_at, read_count, succeeded_count, failed_count, skipped_count, COALESCE(checkpoint, ''),
	heartbeat_at, cancel_requested`

func scanRun(row interface{ Scan(...any) error }) (*Run, error) {
	r := &Run{}
	var started, finished, heartbeat sql.NullTime
	if err := row.Scan(&r.ID, &r.ProjectID, &r.FlowID, &r.PipeID, &r.Trigger, &r.TriggeredBy, &r.Status, &r.Error, &r.ParentRunID,
		&r.CreatedAt, &started, &finished, &r.Read, &r.Succeeded, &r.Failed, &r.Skipped, &r.Checkpoint,
		&heartbeat, &r.CancelRequested); err != nil {
		return nil, err
	}
	r.CreatedAt = r.CreatedAt.UTC()
	r.StartedAt, r.FinishedAt, r.HeartbeatAt = nullTime(started), nullTime(finished), nullTime(heartbeat)
	return r, nil
}

// CreateRun inserts r as queued.
func (q *Q) CreateRun(ctx context.Context, r *Run) error {
	if r.ID == "" {
		r.ID = NewID()
	}
	r.CreatedAt = q.Now()
	if r.Status == "" {
		r.Status = RunQueued
	}
	_, err := q.q.ExecContext(ctx, `INSERT INTO runs (id, project_id, flow_id, pipe_id, trigger_kind, triggered_by, status, error, parent_run_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		r.ID, r.ProjectID, r.FlowID, r.PipeID, r.Trigger, r.TriggeredBy, r.Status, r.Error, nullString(r.ParentRunID), r.CreatedAt)
	if err != nil {
		return fmt.Errorf("store: create run: %w", err)
	}
	return nil
}

// insertRunSQL inserts one whole run row.
const insertRunSQL = `INSERT INTO runs (id, project_id, flow_id, pipe_id, trigger_kind, triggered_by, status, error,
	parent_run_id, created_at, started_at, finished_at, heartbeat_at, read_count, succeeded_count, failed_count, skipped_count) VALUES `

// InsertRuns inserts whole run rows (any status, with their times and
// counters): the group commit of dynamic runs writes a run once, when it
// ends, and many runs in one transaction. On SQLite each row goes through
// one statement prepared once (a multi-row INSERT is parsed every time
// and keeps a statement journal); on PostgreSQL in multi-row statements
// of at most 64 rows (one round trip each). A run without an ID or a
// creation time gets one.
func (q *Q) InsertRuns(ctx context.Context, rs []*Run) error {
	const one = insertRunSQL + `($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`
	var stmt *sql.Stmt
	if q.dialect == SQLite && len(rs) > 0 {
		stmt = q.prepared(ctx, one)
	}
	rows := make([][]any, 0, min(len(rs), 64))
	for _, r := range rs {
		if r.ID == "" {
			r.ID = NewID()
		}
		if r.CreatedAt.IsZero() {
			r.CreatedAt = q.Now()
		}
		row := []any{r.ID, r.ProjectID, r.FlowID, r.PipeID, r.Trigger, r.TriggeredBy, r.Status, r.Error,
			nullString(r.ParentRunID), r.CreatedAt, timeArg(r.StartedAt), timeArg(r.FinishedAt), timeArg(r.HeartbeatAt),
			r.Read, r.Succeeded, r.Failed, r.Skipped}
		if q.dialect == SQLite {
			var err error
			if stmt != nil {
				_, err = stmt.ExecContext(ctx, row...)
			} else {
				_, err = q.q.ExecContext(ctx, one, row...)
			}
			if err != nil {
				return fmt.Errorf("store: insert run: %w", err)
			}
			continue
		}
		if rows = append(rows, row); len(rows) == 64 {
			if err := q.multiInsert(ctx, "insert runs", insertRunSQL, 17, rows); err != nil {
				return err
			}
			rows = rows[:0]
		}
	}
	return q.multiInsert(ctx, "insert runs", insertRunSQL, 17, rows)
}

// timeArg is a nullable time as a query argument.
func timeArg(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC()
}

// RunByID loads a run of a project ("" projectID: any project, for the
// worker).
func (q *Q) RunByID(ctx context.Context, projectID, id string) (*Run, error) {
	query, args := `SELECT `+runColumns+` FROM runs WHERE id = $1`, []any{id}
	if projectID != "" {
		query += ` AND project_id = $2`
		args = append(args, projectID)
	}
	r, err := scanRun(q.q.QueryRowContext(ctx, query, args...))
	if err != nil {
		return nil, notFound(err, "run")
	}
	return r, nil
}

// RunFilter selects runs of a project, newest first.
type RunFilter struct {
	ProjectID string
	FlowID    string
	Status    string
	Trigger   string
	// Before is the ID of the last run of the previous page.
	Before       string
	Since, Until time.Time
	Limit        int
}

// RunDay is one UTC day of a project's runs: how many, and their
// records that succeeded and failed.
type RunDay struct {
	Day               time.Time // midnight UTC
	Runs              int
	Succeeded, Failed int64
}

// RunDays sums a project's runs per UTC day, from since on, in the
// database: one row a day however many runs there are (the dashboard's
// chart). Days with no run are left out.
func (q *Q) RunDays(ctx context.Context, projectID string, since time.Time) ([]RunDay, error) {
	// SQLite's date() reads the stored text with its zone and answers the
	// UTC date; PostgreSQL's timestamptz is turned to UTC first.
	day := `date(created_at)`
	if q.dialect == Postgres {
		day = `to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`
	}
	rows, err := q.q.QueryContext(ctx, `SELECT `+day+` AS day, COUNT(*), COALESCE(SUM(succeeded_count), 0), COALESCE(SUM(failed_count), 0)
		FROM runs WHERE project_id = $1 AND created_at >= $2 GROUP BY day ORDER BY day`, projectID, since.UTC())
	if err != nil {
		return nil, fmt.Errorf("store: run days: %w", err)
	}
	defer rows.Close()
	var out []RunDay
	for rows.Next() {
		var d RunDay
		var day string
		if err := rows.Scan(&day, &d.Runs, &d.Succeeded, &d.Failed); err != nil {
			return nil, fmt.Errorf("store: run days: %w", err)
		}
		if d.Day, err = time.Parse(time.DateOnly, day); err != nil {
			return nil, fmt.Errorf("store: run days: day %q: %w", day, err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: run days: %w", err)
	}
	return out, nil
}

// RecentFailedRuns are a project's newest runs since a time that failed
// or partly failed, newest first, at most limit. They are read along the
// (project_id, created_at) index from the newest run back, so the cost
// is the runs passed over, not every run of the period.
func (q *Q) RecentFailedRuns(ctx context.Context, projectID string, since time.Time, limit int) ([]*Run, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT `+runColumns+` FROM runs
		WHERE project_id = $1 AND created_at >= $2 AND status IN ('failed', 'partially_failed')
		ORDER BY created_at DESC LIMIT $3`, projectID, since.UTC(), limit)
	if err != nil {
		return nil, fmt.Errorf("store: recent failed runs: %w", err)
	}
	defer rows.Close()
	var out []*Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("store: recent failed runs: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: recent failed runs: %w", err)
	}
	return out, nil
}

// ListRuns lists runs of a project, newest first (by creation time, then
// ID); Before pages after the run with that ID.
func (q *Q) ListRuns(ctx context.Context, f RunFilter) ([]*Run, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	query := `SELECT ` + runColumns + ` FROM runs WHERE project_id = $1`
	args := []any{f.ProjectID}
	add := func(cond string, v any) {
		args = append(args, v)
		query += fmt.Sprintf(" AND "+cond, len(args))
	}
	if f.FlowID != "" {
		add("flow_id = $%d", f.FlowID)
	}
	if f.Status != "" {
		add("status = $%d", f.Status)
	}
	if f.Trigger != "" {
		add("trigger_kind = $%d", f.Trigger)
	}
	if f.Before != "" {
		// After the cursor's run in the list's order; a cursor that names
		// no run (deleted since) ends the list rather than restarting it.
		add("(created_at, id) < (SELECT created_at, id FROM runs WHERE id = $%d)", f.Before)
	}
	if !f.Since.IsZero() {
		add("created_at >= $%d", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		add("created_at < $%d", f.Until.UTC())
	}
	args = append(args, f.Limit)
	// Along runs_project_idx (project_id, created_at, id): no sort.
	query += fmt.Sprintf(" ORDER BY created_at DESC, id DESC LIMIT $%d", len(args))
	rows, err := q.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list runs: %w", err)
	}
	defer rows.Close()
	var out []*Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list runs: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// StartRun marks a queued run running (a retried job finds it running
// already and starts it over).
func (q *Q) StartRun(ctx context.Context, id string) (time.Time, error) {
	now := q.Now()
	err := q.execOne(ctx, "start run", `UPDATE runs SET status = $1, started_at = $2, read_count = 0, succeeded_count = 0, failed_count = 0, skipped_count = 0
		WHERE id = $3`, RunRunning, now, id)
	return now, err
}

// UpdateRunCounters stores a running run's counters and checkpoint, and
// its heartbeat.
func (q *Q) UpdateRunCounters(ctx context.Context, r *Run) error {
	return q.execOne(ctx, "update run", `UPDATE runs SET read_count = $1, succeeded_count = $2, failed_count = $3, skipped_count = $4,
		checkpoint = $5, heartbeat_at = $6 WHERE id = $7`, r.Read, r.Succeeded, r.Failed, r.Skipped, nullString(r.Checkpoint), q.Now(), r.ID)
}

// FinishRun stores a run's final status, error and counters.
func (q *Q) FinishRun(ctx context.Context, r *Run) error {
	now := q.Now()
	r.FinishedAt = &now
	return q.execOne(ctx, "finish run", `UPDATE runs SET status = $1, error = $2, finished_at = $3, read_count = $4, succeeded_count = $5,
		failed_count = $6, skipped_count = $7, checkpoint = $8 WHERE id = $9`,
		r.Status, r.Error, now, r.Read, r.Succeeded, r.Failed, r.Skipped, nullString(r.Checkpoint), r.ID)
}

// ClearRunDetail removes a run's failures and logs (a job attempt that
// starts the run over).
func (q *Q) ClearRunDetail(ctx context.Context, runID string) error {
	if _, err := q.q.ExecContext(ctx, `DELETE FROM run_failures WHERE run_id = $1`, runID); err != nil {
		return fmt.Errorf("store: clear run failures: %w", err)
	}
	if _, err := q.q.ExecContext(ctx, `DELETE FROM run_logs WHERE run_id = $1`, runID); err != nil {
		return fmt.Errorf("store: clear run logs: %w", err)
	}
	return nil
}

// multiInsert inserts rows of n columns each in one statement.
func (q *Q) multiInsert(ctx context.Context, what, head string, n int, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString(head)
	args := make([]any, 0, len(rows)*n)
	for i, r := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(")
		for j := range n {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "$%d", len(args)+j+1)
		}
		b.WriteString(")")
		args = append(args, r...)
	}
	if _, err := q.q.ExecContext(ctx, b.String(), args...); err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	return nil
}

// InsertRunFailures adds failures in batches of at most 100 rows.
func (q *Q) InsertRunFailures(ctx context.Context, fs []RunFailure) error {
	for len(fs) > 0 {
		n := min(len(fs), 100)
		rows := make([][]any, 0, n)
		for _, f := range fs[:n] {
			rows = append(rows, []any{f.RunID, f.EntityID, f.Stage, f.Error, max(f.Attempts, 1)})
		}
		if err := q.multiInsert(ctx, "insert run failures", `INSERT INTO run_failures (run_id, entity_id, stage, error, attempts) VALUES `, 5, rows); err != nil {
			return err
		}
		fs = fs[n:]
	}
	return nil
}

// InsertRunLogs adds log entries in batches of at most 100 rows.
func (q *Q) InsertRunLogs(ctx context.Context, ls []RunLog) error {
	for len(ls) > 0 {
		n := min(len(ls), 100)
		rows := make([][]any, 0, n)
		for _, l := range ls[:n] {
			rows = append(rows, []any{l.RunID, l.Seq, l.EntityID, l.Step, l.Value})
		}
		if err := q.multiInsert(ctx, "insert run logs", `INSERT INTO run_logs (run_id, seq, entity_id, step, value) VALUES `, 5, rows); err != nil {
			return err
		}
		ls = ls[n:]
	}
	return nil
}

// ListRunFailures lists a run's failures in the order they happened,
// after the failure ID after (paging), at most limit.
func (q *Q) ListRunFailures(ctx context.Context, runID string, after int64, limit int) ([]*RunFailure, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := q.q.QueryContext(ctx, `SELECT id, run_id, entity_id, stage, error, attempts, COALESCE(reprocessed_by, '')
		FROM run_failures WHERE run_id = $1 AND id > $2 ORDER BY id LIMIT $3`, runID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: list run failures: %w", err)
	}
	defer rows.Close()
	var out []*RunFailure
	for rows.Next() {
		f := &RunFailure{}
		if err := rows.Scan(&f.ID, &f.RunID, &f.EntityID, &f.Stage, &f.Error, &f.Attempts, &f.ReprocessedBy); err != nil {
			return nil, fmt.Errorf("store: list run failures: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// ListRunLogs lists a run's detail log (what its log steps kept) in
// order, after the entry seq after (paging), at most limit.
func (q *Q) ListRunLogs(ctx context.Context, runID string, after int64, limit int) ([]*RunLog, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := q.q.QueryContext(ctx, `SELECT run_id, seq, entity_id, step, value
		FROM run_logs WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, runID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: list run logs: %w", err)
	}
	defer rows.Close()
	var out []*RunLog
	for rows.Next() {
		l := &RunLog{}
		if err := rows.Scan(&l.RunID, &l.Seq, &l.EntityID, &l.Step, &l.Value); err != nil {
			return nil, fmt.Errorf("store: list run logs: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// DeleteRun removes a run of a project with its failures and logs.
func (q *Q) DeleteRun(ctx context.Context, projectID, id string) error {
	if err := q.ClearRunDetail(ctx, id); err != nil {
		return err
	}
	return q.execOne(ctx, "delete run", `DELETE FROM runs WHERE project_id = $1 AND id = $2`, projectID, id)
}
