package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Outcomes of a schedule's due time.
const (
	FireStarted = "started"
	FireSkipped = "skipped"
	FireMissed  = "missed"
)

// ScheduleFire is one due time of a flow's schedule and what became of it.
type ScheduleFire struct {
	FlowID        string
	ScheduleIndex int
	FireAt        time.Time
	// Schedule is the cron expression and time zone at the time.
	Schedule string
	Outcome  string
	// RunID is the run started (started) or the run still going (skipped).
	RunID  string
	Reason string
	// MissedCount is how many due times a missed row stands for.
	MissedCount int
	CreatedAt   time.Time
}

// ScheduleKey names one schedule of one flow.
type ScheduleKey struct {
	FlowID string
	Index  int
}

// ListScheduledFlows lists the enabled flows of enabled pipes whose
// definition has schedules, in every project (for the scheduler).
func (q *Q) ListScheduledFlows(ctx context.Context) ([]*Flow, error) {
	// The LIKE is a cheap pre-filter on the canonical JSON; the caller
	// compiles the definition to find the schedules themselves.
	rows, err := q.q.QueryContext(ctx, `SELECT f.id, f.pipe_id, f.project_id, f.name, f.enabled, f.definition, f.version, f.created_at, f.updated_at, f.created_by
		FROM flows f JOIN pipes p ON p.id = f.pipe_id AND p.project_id = f.project_id
		WHERE f.enabled = $1 AND p.enabled = $1 AND f.definition LIKE '%"schedules"%' ORDER BY f.id`, true)
	if err != nil {
		return nil, fmt.Errorf("store: list scheduled flows: %w", err)
	}
	defer rows.Close()
	var out []*Flow
	for rows.Next() {
		f, err := scanFlow(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list scheduled flows: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// FlowSchedulable re-reads, inside the scheduler's transaction, whether a
// flow still runs on its schedules: it exists, it and its pipe are
// enabled, and it is still at version.
func (q *Q) FlowSchedulable(ctx context.Context, flowID string, version int) (bool, error) {
	var n int
	err := q.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM flows f JOIN pipes p ON p.id = f.pipe_id AND p.project_id = f.project_id
		WHERE f.id = $1 AND f.version = $2 AND f.enabled = $3 AND p.enabled = $3`, flowID, version, true).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: check scheduled flow: %w", err)
	}
	return n > 0, nil
}

// LastScheduleFires is the latest due time handled of every schedule
// that has one: of flow flowID, or of every flow when flowID is "".
func (q *Q) LastScheduleFires(ctx context.Context, flowID string) (map[ScheduleKey]time.Time, error) {
	// Not MAX() directly: SQLite would answer a text without the column's
	// type, which database/sql cannot scan into a time.
	query := `SELECT s.flow_id, s.schedule_index, s.fire_at FROM schedule_fires s
		WHERE s.fire_at = (SELECT MAX(t.fire_at) FROM schedule_fires t WHERE t.flow_id = s.flow_id AND t.schedule_index = s.schedule_index)`
	var args []any
	if flowID != "" {
		query += ` AND s.flow_id = $1`
		args = append(args, flowID)
	}
	rows, err := q.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: last schedule fires: %w", err)
	}
	defer rows.Close()
	out := map[ScheduleKey]time.Time{}
	for rows.Next() {
		var k ScheduleKey
		var at time.Time
		if err := rows.Scan(&k.FlowID, &k.Index, &at); err != nil {
			return nil, fmt.Errorf("store: last schedule fires: %w", err)
		}
		out[k] = at.UTC()
	}
	return out, rows.Err()
}

// InsertScheduleFire records a due time. It reports false, and changes
// nothing, when that due time of that schedule was recorded already.
func (q *Q) InsertScheduleFire(ctx context.Context, f *ScheduleFire) (bool, error) {
	if f.CreatedAt.IsZero() {
		f.CreatedAt = q.Now()
	}
	f.FireAt = f.FireAt.UTC().Truncate(time.Microsecond)
	res, err := q.q.ExecContext(ctx, `INSERT INTO schedule_fires (flow_id, schedule_index, fire_at, schedule, outcome, run_id, reason, missed_count, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (flow_id, schedule_index, fire_at) DO NOTHING`,
		f.FlowID, f.ScheduleIndex, f.FireAt, f.Schedule, f.Outcome, nullString(f.RunID), f.Reason, f.MissedCount, f.CreatedAt)
	if err != nil {
		return false, fmt.Errorf("store: record schedule fire: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: record schedule fire: %w", err)
	}
	return n > 0, nil
}

// ActiveRunOfFlow is the ID of the oldest queued or running run of a
// flow, or "" when none is.
func (q *Q) ActiveRunOfFlow(ctx context.Context, flowID string) (string, error) {
	var id string
	err := q.q.QueryRowContext(ctx, `SELECT id FROM runs WHERE flow_id = $1 AND status IN ($2, $3) ORDER BY created_at, id LIMIT 1`,
		flowID, RunQueued, RunRunning).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: active run of flow: %w", err)
	}
	return id, nil
}

// ListScheduleFires lists a flow's recent firings, newest first, at most
// limit.
func (q *Q) ListScheduleFires(ctx context.Context, flowID string, limit int) ([]*ScheduleFire, error) {
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	rows, err := q.q.QueryContext(ctx, `SELECT flow_id, schedule_index, fire_at, schedule, outcome, COALESCE(run_id, ''), reason, missed_count, created_at
		FROM schedule_fires WHERE flow_id = $1 ORDER BY fire_at DESC, schedule_index LIMIT $2`, flowID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: list schedule fires: %w", err)
	}
	defer rows.Close()
	var out []*ScheduleFire
	for rows.Next() {
		f := &ScheduleFire{}
		if err := rows.Scan(&f.FlowID, &f.ScheduleIndex, &f.FireAt, &f.Schedule, &f.Outcome, &f.RunID, &f.Reason, &f.MissedCount, &f.CreatedAt); err != nil {
			return nil, fmt.Errorf("store: list schedule fires: %w", err)
		}
		f.FireAt, f.CreatedAt = f.FireAt.UTC(), f.CreatedAt.UTC()
		out = append(out, f)
	}
	return out, rows.Err()
}

// PruneScheduleFires deletes firings due before cutoff, except the latest
// of each schedule, which the scheduler counts from.
func (q *Q) PruneScheduleFires(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := q.q.ExecContext(ctx, `DELETE FROM schedule_fires WHERE fire_at < $1 AND fire_at < (SELECT MAX(t.fire_at) FROM schedule_fires t
		WHERE t.flow_id = schedule_fires.flow_id AND t.schedule_index = schedule_fires.schedule_index)`, cutoff.UTC())
	if err != nil {
		return 0, fmt.Errorf("store: prune schedule fires: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
