package store

import (
	"context"
	"fmt"
	"time"
)

// Pipe is one integration of a project ("Shop ↔ ERP"): a named set of
// flows and the console-log settings they share (a JSON document
// validated by package pipeline).
type Pipe struct {
	ID          string
	ProjectID   string
	Name        string
	Description string
	ConsoleLog  string
	// Paused (column enabled = false) stops every flow of the pipe from
	// firing on a schedule or answering dynamic calls; runs by hand still
	// work. The zero value is a running pipe.
	Paused    bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

const pipeColumns = `id, project_id, name, description, console_log, enabled, created_at, updated_at`

func scanPipe(row interface{ Scan(...any) error }) (*Pipe, error) {
	p := &Pipe{}
	var enabled bool
	if err := row.Scan(&p.ID, &p.ProjectID, &p.Name, &p.Description, &p.ConsoleLog, &enabled, &p.CreatedAt, &p.UpdatedAt); err != nil {
		return nil, err
	}
	p.Paused = !enabled
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return p, nil
}

// CreatePipe inserts p, filling in its ID and times. A name taken in the
// project is ErrConflict.
func (q *Q) CreatePipe(ctx context.Context, p *Pipe) error {
	if p.ID == "" {
		p.ID = NewID()
	}
	now := q.Now()
	p.CreatedAt, p.UpdatedAt = now, now
	_, err := q.q.ExecContext(ctx, `INSERT INTO pipes (`+pipeColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		p.ID, p.ProjectID, p.Name, p.Description, p.ConsoleLog, !p.Paused, p.CreatedAt, p.UpdatedAt)
	if isUniqueViolation(err) {
		return fmt.Errorf("store: create pipe: name %q is taken in this project: %w", p.Name, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("store: create pipe: %w", err)
	}
	return nil
}

// PipeByID loads a pipe of a project (scoped: an ID of another project is
// not found).
func (q *Q) PipeByID(ctx context.Context, projectID, id string) (*Pipe, error) {
	p, err := scanPipe(q.q.QueryRowContext(ctx, `SELECT `+pipeColumns+` FROM pipes WHERE project_id = $1 AND id = $2`, projectID, id))
	if err != nil {
		return nil, notFound(err, "pipe")
	}
	return p, nil
}

// ListPipes lists a project's pipes by name.
func (q *Q) ListPipes(ctx context.Context, projectID string) ([]*Pipe, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT `+pipeColumns+` FROM pipes WHERE project_id = $1 ORDER BY name, id`, projectID)
	if err != nil {
		return nil, fmt.Errorf("store: list pipes: %w", err)
	}
	defer rows.Close()
	var out []*Pipe
	for rows.Next() {
		p, err := scanPipe(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list pipes: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// UpdatePipe writes name, description and console-log settings.
func (q *Q) UpdatePipe(ctx context.Context, p *Pipe) error {
	p.UpdatedAt = q.Now()
	err := q.execOne(ctx, "update pipe", `UPDATE pipes SET name = $1, description = $2, console_log = $3, updated_at = $4
		WHERE project_id = $5 AND id = $6`, p.Name, p.Description, p.ConsoleLog, p.UpdatedAt, p.ProjectID, p.ID)
	if isUniqueViolation(err) {
		return fmt.Errorf("store: update pipe: name %q is taken in this project: %w", p.Name, ErrConflict)
	}
	return err
}

// SetPipePaused pauses or resumes a pipe.
func (q *Q) SetPipePaused(ctx context.Context, p *Pipe) error {
	p.UpdatedAt = q.Now()
	return q.execOne(ctx, "pause pipe", `UPDATE pipes SET enabled = $1, updated_at = $2 WHERE project_id = $3 AND id = $4`,
		!p.Paused, p.UpdatedAt, p.ProjectID, p.ID)
}

// DeletePipe removes a pipe and, through foreign keys, its flows and
// their versions.
func (q *Q) DeletePipe(ctx context.Context, projectID, id string) error {
	return q.execOne(ctx, "delete pipe", `DELETE FROM pipes WHERE project_id = $1 AND id = $2`, projectID, id)
}

// CountFlows counts the flows of a pipe (for the audit event of its
// deletion).
func (q *Q) CountFlows(ctx context.Context, projectID, pipeID string) (int, error) {
	var n int
	if err := q.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM flows WHERE project_id = $1 AND pipe_id = $2`, projectID, pipeID).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count flows: %w", err)
	}
	return n, nil
}
