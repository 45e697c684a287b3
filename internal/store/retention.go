package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// SetPlanRetention changes the retention days of the plan id (start-up
// configuration: --plan-retention). An unknown plan is ErrNotFound.
func (q *Q) SetPlanRetention(ctx context.Context, id string, runLogDays, consoleLogDays, auditDays int) error {
	return q.execOne(ctx, "set plan retention", `UPDATE plans SET run_log_retention_days = $1,
		console_log_retention_days = $2, audit_retention_days = $3 WHERE id = $4`, runLogDays, consoleLogDays, auditDays, id)
}

// ProjectRetention is a project with the retention of its plan and its
// settings (which may shorten it: see project.Settings.Retention).
type ProjectRetention struct {
	ProjectID      string
	PlanID         string
	Settings       string
	RunLogDays     int
	ConsoleLogDays int
	AuditDays      int
}

// ProjectRetentions lists every project with its plan's retention, by ID.
func (q *Q) ProjectRetentions(ctx context.Context) ([]*ProjectRetention, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT p.id, p.plan_id, p.settings, pl.run_log_retention_days,
		pl.console_log_retention_days, pl.audit_retention_days
		FROM projects p JOIN plans pl ON pl.id = p.plan_id ORDER BY p.id`)
	if err != nil {
		return nil, fmt.Errorf("store: project retentions: %w", err)
	}
	defer rows.Close()
	var out []*ProjectRetention
	for rows.Next() {
		r := &ProjectRetention{}
		if err := rows.Scan(&r.ProjectID, &r.PlanID, &r.Settings, &r.RunLogDays, &r.ConsoleLogDays, &r.AuditDays); err != nil {
			return nil, fmt.Errorf("store: project retentions: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// FinishedRunIDs lists at most limit runs of a project created before
// before that are neither queued nor running, oldest first: the runs a
// deletion by date or retention may remove.
func (q *Q) FinishedRunIDs(ctx context.Context, projectID string, before time.Time, limit int) ([]string, error) {
	if limit <= 0 {
		limit = 500
	}
	rows, err := q.q.QueryContext(ctx, `SELECT id FROM runs WHERE project_id = $1 AND created_at < $2
		AND status NOT IN ('queued', 'running') ORDER BY created_at, id LIMIT $3`, projectID, before.UTC(), limit)
	if err != nil {
		return nil, fmt.Errorf("store: finished runs before %s: %w", before.Format(time.RFC3339), err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: finished runs: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// DeleteFinishedRuns removes the runs ids of a project with their
// failures, logs and console-log rows (the foreign keys cascade), except
// any that is queued or running by now; it gives how many went. The
// caller deletes the console logs' blobs first.
func (q *Q) DeleteFinishedRuns(ctx context.Context, projectID string, ids []string) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	args := make([]any, 0, len(ids)+1)
	args = append(args, projectID)
	marks := make([]string, len(ids))
	for i, id := range ids {
		args = append(args, id)
		marks[i] = fmt.Sprintf("$%d", i+2)
	}
	res, err := q.q.ExecContext(ctx, `DELETE FROM runs WHERE project_id = $1 AND id IN (`+strings.Join(marks, ", ")+`)
		AND status NOT IN ('queued', 'running')`, args...)
	if err != nil {
		return 0, fmt.Errorf("store: delete finished runs: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: delete finished runs: %w", err)
	}
	return n, nil
}

// OldestAuditEvents lists the first limit events of the activity log in
// chain order (retention deletes the log from its start).
func (q *Q) OldestAuditEvents(ctx context.Context, limit int) ([]*AuditEvent, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_events ORDER BY seq LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: oldest audit events: %w", err)
	}
	defer rows.Close()
	var out []*AuditEvent
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, fmt.Errorf("store: oldest audit events: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// AuditAnchor is where the activity log starts since retention last cut
// it: the last event deleted. The first event kept names ThroughHash as
// its prev_hash, so a further event removed from the start shows.
type AuditAnchor struct {
	ThroughSeq  int64
	ThroughHash string
	ThroughAt   time.Time
	UpdatedAt   time.Time
}

// DeleteAuditThrough deletes the events of the log up to and including
// last (a prefix of the chain: deleting from the middle would break it)
// and moves the anchor to last, in q's transaction; it gives how many
// events went.
func (q *Q) DeleteAuditThrough(ctx context.Context, last *AuditEvent) (int64, error) {
	if q.tx == nil {
		return 0, errors.New("store: delete audit events: needs a transaction")
	}
	if err := q.LockAuditChain(ctx); err != nil {
		return 0, err
	}
	res, err := q.q.ExecContext(ctx, `DELETE FROM audit_events WHERE seq <= $1`, last.Seq)
	if err != nil {
		return 0, fmt.Errorf("store: delete audit events: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: delete audit events: %w", err)
	}
	_, err = q.q.ExecContext(ctx, `INSERT INTO audit_anchor (id, through_seq, through_hash, through_at, updated_at)
		VALUES (1, $1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET through_seq = excluded.through_seq,
		through_hash = excluded.through_hash, through_at = excluded.through_at, updated_at = excluded.updated_at`,
		last.Seq, last.Hash, last.At.UTC(), q.Now())
	if err != nil {
		return 0, fmt.Errorf("store: move audit anchor: %w", err)
	}
	return n, nil
}

// GetAuditAnchor gives the anchor, or ErrNotFound while retention has
// deleted no event.
func (q *Q) GetAuditAnchor(ctx context.Context) (*AuditAnchor, error) {
	a := &AuditAnchor{}
	err := q.q.QueryRowContext(ctx, `SELECT through_seq, through_hash, through_at, updated_at FROM audit_anchor WHERE id = 1`).
		Scan(&a.ThroughSeq, &a.ThroughHash, &a.ThroughAt, &a.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: audit anchor: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: audit anchor: %w", err)
	}
	a.ThroughAt, a.UpdatedAt = a.ThroughAt.UTC(), a.UpdatedAt.UTC()
	return a, nil
}

// ReclaimSpace gives the pages freed by deletions back to the file system
// on SQLite (PRAGMA incremental_vacuum: databases created with
// auto_vacuum=INCREMENTAL, see OpenSQLite; an older file needs one VACUUM
// first and is otherwise left as it is). PostgreSQL's autovacuum does this
// itself.
func (s *Store) ReclaimSpace(ctx context.Context) error {
	if s.dialect != SQLite {
		return nil
	}
	rows, err := s.write.QueryContext(ctx, `PRAGMA incremental_vacuum`)
	if err != nil {
		return fmt.Errorf("store: incremental vacuum: %w", err)
	}
	// Each step of the pragma frees pages; reading every row runs it to
	// the end.
	for rows.Next() {
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return fmt.Errorf("store: incremental vacuum: %w", err)
	}
	return rows.Close()
}
