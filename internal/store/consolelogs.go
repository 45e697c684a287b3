package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ConsoleLog is the row of one run's console log; the log itself is a
// sealed blob under BlobKey.
type ConsoleLog struct {
	ID        string
	ProjectID string
	PipeID    string
	FlowID    string
	RunID     string
	BlobKey   string
	// Size is the bytes of the sealed blob; Entries the lines it holds.
	Size    int64
	Entries int64
	// Capture is the JSON array of the capture kinds the log holds.
	Capture   string
	CreatedAt time.Time
}

const consoleLogColumns = `id, project_id, pipe_id, flow_id, run_id, blob_key, size, entries, capture, created_at`

func scanConsoleLog(row interface{ Scan(...any) error }) (*ConsoleLog, error) {
	l := &ConsoleLog{}
	if err := row.Scan(&l.ID, &l.ProjectID, &l.PipeID, &l.FlowID, &l.RunID, &l.BlobKey, &l.Size, &l.Entries, &l.Capture, &l.CreatedAt); err != nil {
		return nil, err
	}
	l.CreatedAt = l.CreatedAt.UTC()
	return l, nil
}

// CreateConsoleLog inserts a console log's row (its blob is written
// already); an empty ID gets one, CreatedAt is now.
func (q *Q) CreateConsoleLog(ctx context.Context, l *ConsoleLog) error {
	if l.ID == "" {
		l.ID = NewID()
	}
	if l.Capture == "" {
		l.Capture = "[]"
	}
	l.CreatedAt = q.Now()
	_, err := q.q.ExecContext(ctx, `INSERT INTO console_logs (`+consoleLogColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		l.ID, l.ProjectID, l.PipeID, l.FlowID, l.RunID, l.BlobKey, l.Size, l.Entries, l.Capture, l.CreatedAt)
	if err != nil {
		return fmt.Errorf("store: create console log: %w", err)
	}
	return nil
}

// ConsoleLogByID loads a console log of a project.
func (q *Q) ConsoleLogByID(ctx context.Context, projectID, id string) (*ConsoleLog, error) {
	l, err := scanConsoleLog(q.q.QueryRowContext(ctx, `SELECT `+consoleLogColumns+` FROM console_logs WHERE project_id = $1 AND id = $2`, projectID, id))
	if err != nil {
		return nil, notFound(err, "console log")
	}
	return l, nil
}

// ConsoleLogAnyProject loads a console log by ID alone (a download link
// names no project; its signature vouches for the ID).
func (q *Q) ConsoleLogAnyProject(ctx context.Context, id string) (*ConsoleLog, error) {
	l, err := scanConsoleLog(q.q.QueryRowContext(ctx, `SELECT `+consoleLogColumns+` FROM console_logs WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "console log")
	}
	return l, nil
}

// ConsoleLogFilter selects console logs of a project, newest first.
type ConsoleLogFilter struct {
	ProjectID string
	PipeID    string
	RunID     string
	// Before: only logs created before it (zero: any); BeforeID pages
	// (the ID of the last log of the previous page).
	Before   time.Time
	BeforeID string
	Limit    int
}

// ListConsoleLogs lists console logs, newest first, at most Limit (default
// and cap 500).
func (q *Q) ListConsoleLogs(ctx context.Context, f ConsoleLogFilter) ([]*ConsoleLog, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 500
	}
	query, args := `SELECT `+consoleLogColumns+` FROM console_logs WHERE project_id = $1`, []any{f.ProjectID}
	add := func(cond string, v any) {
		args = append(args, v)
		query += fmt.Sprintf(" AND "+cond, len(args))
	}
	if f.PipeID != "" {
		add("pipe_id = $%d", f.PipeID)
	}
	if f.RunID != "" {
		add("run_id = $%d", f.RunID)
	}
	if !f.Before.IsZero() {
		add("created_at < $%d", f.Before.UTC())
	}
	if f.BeforeID != "" {
		add("id < $%d", f.BeforeID)
	}
	args = append(args, f.Limit)
	query += fmt.Sprintf(" ORDER BY id DESC LIMIT $%d", len(args))
	rows, err := q.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list console logs: %w", err)
	}
	defer rows.Close()
	var out []*ConsoleLog
	for rows.Next() {
		l, err := scanConsoleLog(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list console logs: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// ConsoleLogsOfRuns lists the console logs of runs (any project: the
// caller has checked the runs), for deleting their blobs before the runs.
func (q *Q) ConsoleLogsOfRuns(ctx context.Context, runIDs []string) ([]*ConsoleLog, error) {
	var out []*ConsoleLog
	for _, id := range runIDs {
		rows, err := q.q.QueryContext(ctx, `SELECT `+consoleLogColumns+` FROM console_logs WHERE run_id = $1`, id)
		if err != nil {
			return nil, fmt.Errorf("store: console logs of runs: %w", err)
		}
		for rows.Next() {
			l, err := scanConsoleLog(rows)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: console logs of runs: %w", err)
			}
			out = append(out, l)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("store: console logs of runs: %w", err)
		}
	}
	return out, nil
}

// DeleteConsoleLog removes a console log's row (its blob first: see
// consolelog.Service.Delete). A log already gone is ErrNotFound.
func (q *Q) DeleteConsoleLog(ctx context.Context, projectID, id string) error {
	return q.execOne(ctx, "delete console log", `DELETE FROM console_logs WHERE project_id = $1 AND id = $2`, projectID, id)
}

// LinkKey gives the sealed key that signs download links, or ErrNotFound
// before the first is made.
func (q *Q) LinkKey(ctx context.Context) (id, sealed string, err error) {
	err = q.q.QueryRowContext(ctx, `SELECT id, sealed FROM link_keys ORDER BY created_at LIMIT 1`).Scan(&id, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", fmt.Errorf("store: link key: %w", ErrNotFound)
	}
	if err != nil {
		return "", "", fmt.Errorf("store: link key: %w", err)
	}
	return id, sealed, nil
}

// PutLinkKey stores the sealed link key id, unless one is stored already
// (another node was first): then it does nothing, and LinkKey gives the
// one that won.
func (q *Q) PutLinkKey(ctx context.Context, id, sealed string) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO link_keys (id, sealed, created_at)
		SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM link_keys)`, id, sealed, q.Now())
	if err != nil {
		return fmt.Errorf("store: put link key: %w", err)
	}
	return nil
}
