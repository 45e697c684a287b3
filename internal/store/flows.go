package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Flow is one flow of a pipe: its current definition (canonical JSON,
// validated by the flow format before it is saved), the number of that
// version, and whether it runs.
type Flow struct {
	ID         string
	PipeID     string
	ProjectID  string
	Name       string
	Enabled    bool
	Definition string
	Version    int
	CreatedAt  time.Time
	UpdatedAt  time.Time
	CreatedBy  string
}

// FlowVersion is one saved definition of a flow. RestoredFrom is the
// version it copies when it was saved by a restore (0 otherwise).
type FlowVersion struct {
	FlowID       string
	Version      int
	Definition   string
	SavedAt      time.Time
	SavedBy      string
	SavedByEmail string // of the user, when the account still exists
	RestoredFrom int
}

const flowColumns = `id, pipe_id, project_id, name, enabled, definition, version, created_at, updated_at, created_by`

func scanFlow(row interface{ Scan(...any) error }) (*Flow, error) {
	f := &Flow{}
	if err := row.Scan(&f.ID, &f.PipeID, &f.ProjectID, &f.Name, &f.Enabled, &f.Definition, &f.Version,
		&f.CreatedAt, &f.UpdatedAt, &f.CreatedBy); err != nil {
		return nil, err
	}
	f.CreatedAt, f.UpdatedAt = f.CreatedAt.UTC(), f.UpdatedAt.UTC()
	return f, nil
}

// insertVersion adds the flow's current definition to its history.
func (q *Q) insertVersion(ctx context.Context, f *Flow, savedBy string, restoredFrom int) error {
	var from sql.NullInt64
	if restoredFrom > 0 {
		from = sql.NullInt64{Int64: int64(restoredFrom), Valid: true}
	}
	_, err := q.q.ExecContext(ctx, `INSERT INTO flow_versions (flow_id, version, definition, saved_at, saved_by, restored_from)
		VALUES ($1, $2, $3, $4, $5, $6)`, f.ID, f.Version, f.Definition, f.UpdatedAt, savedBy, from)
	if isUniqueViolation(err) {
		return fmt.Errorf("store: save flow version %d: it was saved meanwhile: %w", f.Version, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("store: save flow version: %w", err)
	}
	return nil
}

// CreateFlow inserts f as version 1 and records that version, so every
// definition a flow ever had is in its history. It must run in a
// transaction. A name taken in the pipe is ErrConflict; a pipe that is
// not the project's is ErrNotFound.
func (q *Q) CreateFlow(ctx context.Context, f *Flow) error {
	if q.tx == nil {
		return fmt.Errorf("store: create flow: needs a transaction")
	}
	if f.ID == "" {
		f.ID = NewID()
	}
	now := q.Now()
	f.CreatedAt, f.UpdatedAt, f.Version = now, now, 1
	// Checked first: on PostgreSQL a failed statement ends the
	// transaction, so a foreign-key failure cannot be told apart and
	// recovered from afterwards.
	if _, err := q.PipeByID(ctx, f.ProjectID, f.PipeID); err != nil {
		return fmt.Errorf("store: create flow: %w", err)
	}
	_, err := q.q.ExecContext(ctx, `INSERT INTO flows (`+flowColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		f.ID, f.PipeID, f.ProjectID, f.Name, f.Enabled, f.Definition, f.Version, f.CreatedAt, f.UpdatedAt, f.CreatedBy)
	if isUniqueViolation(err) {
		return fmt.Errorf("store: create flow: name %q is taken in this pipe: %w", f.Name, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("store: create flow: %w", err)
	}
	return q.insertVersion(ctx, f, f.CreatedBy, 0)
}

// FlowByID loads a flow of a pipe of a project (scoped by both: an ID of
// another project or another pipe is not found).
func (q *Q) FlowByID(ctx context.Context, projectID, pipeID, id string) (*Flow, error) {
	f, err := scanFlow(q.q.QueryRowContext(ctx, `SELECT `+flowColumns+` FROM flows WHERE project_id = $1 AND pipe_id = $2 AND id = $3`,
		projectID, pipeID, id))
	if err != nil {
		return nil, notFound(err, "flow")
	}
	return f, nil
}

// ListFlows lists a pipe's flows by name.
func (q *Q) ListFlows(ctx context.Context, projectID, pipeID string) ([]*Flow, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT `+flowColumns+` FROM flows WHERE project_id = $1 AND pipe_id = $2 ORDER BY name, id`,
		projectID, pipeID)
	if err != nil {
		return nil, fmt.Errorf("store: list flows: %w", err)
	}
	defer rows.Close()
	var out []*Flow
	for rows.Next() {
		f, err := scanFlow(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list flows: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// SaveFlowDefinition makes f's Name and Definition the flow's next
// version and records it, in one transaction. f.Version is the version
// the change was based on; if the flow moved past it meanwhile, nothing is
// written and the answer is ErrConflict. restoredFrom names the version a
// restore copies (0 for an ordinary save). On success f holds the new
// version number and time.
func (q *Q) SaveFlowDefinition(ctx context.Context, f *Flow, savedBy string, restoredFrom int) error {
	if q.tx == nil {
		return fmt.Errorf("store: save flow: needs a transaction")
	}
	now := q.Now()
	res, err := q.q.ExecContext(ctx, `UPDATE flows SET name = $1, definition = $2, version = version + 1, updated_at = $3
		WHERE project_id = $4 AND pipe_id = $5 AND id = $6 AND version = $7`,
		f.Name, f.Definition, now, f.ProjectID, f.PipeID, f.ID, f.Version)
	if isUniqueViolation(err) {
		return fmt.Errorf("store: save flow: name %q is taken in this pipe: %w", f.Name, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("store: save flow: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: save flow: %w", err)
	} else if n == 0 {
		if _, err := q.FlowByID(ctx, f.ProjectID, f.PipeID, f.ID); err != nil {
			return fmt.Errorf("store: save flow: %w", err)
		}
		return fmt.Errorf("store: save flow: version %d is no longer the newest: %w", f.Version, ErrConflict)
	}
	f.Version++
	f.UpdatedAt = now
	return q.insertVersion(ctx, f, savedBy, restoredFrom)
}

// SetFlowEnabled turns a flow on or off. It is not a new version: the
// definition stays as it is.
func (q *Q) SetFlowEnabled(ctx context.Context, f *Flow) error {
	f.UpdatedAt = q.Now()
	return q.execOne(ctx, "set flow enabled", `UPDATE flows SET enabled = $1, updated_at = $2 WHERE project_id = $3 AND pipe_id = $4 AND id = $5`,
		f.Enabled, f.UpdatedAt, f.ProjectID, f.PipeID, f.ID)
}

// DeleteFlow removes a flow and its versions.
func (q *Q) DeleteFlow(ctx context.Context, projectID, pipeID, id string) error {
	return q.execOne(ctx, "delete flow", `DELETE FROM flows WHERE project_id = $1 AND pipe_id = $2 AND id = $3`, projectID, pipeID, id)
}

// flowVersionSelect reads versions through their flow, so a version is
// only found under its own project and pipe.
const flowVersionSelect = `SELECT v.flow_id, v.version, v.definition, v.saved_at, v.saved_by, COALESCE(u.email, ''), COALESCE(v.restored_from, 0)
	FROM flow_versions v JOIN flows f ON f.id = v.flow_id LEFT JOIN users u ON u.id = v.saved_by
	WHERE f.project_id = $1 AND f.pipe_id = $2 AND f.id = $3`

func scanFlowVersion(row interface{ Scan(...any) error }) (*FlowVersion, error) {
	v := &FlowVersion{}
	if err := row.Scan(&v.FlowID, &v.Version, &v.Definition, &v.SavedAt, &v.SavedBy, &v.SavedByEmail, &v.RestoredFrom); err != nil {
		return nil, err
	}
	v.SavedAt = v.SavedAt.UTC()
	return v, nil
}

// ListFlowVersions lists every saved version of a flow, newest first.
func (q *Q) ListFlowVersions(ctx context.Context, projectID, pipeID, flowID string) ([]*FlowVersion, error) {
	rows, err := q.q.QueryContext(ctx, flowVersionSelect+` ORDER BY v.version DESC`, projectID, pipeID, flowID)
	if err != nil {
		return nil, fmt.Errorf("store: list flow versions: %w", err)
	}
	defer rows.Close()
	var out []*FlowVersion
	for rows.Next() {
		v, err := scanFlowVersion(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list flow versions: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// FlowVersionByNumber loads one saved version of a flow.
func (q *Q) FlowVersionByNumber(ctx context.Context, projectID, pipeID, flowID string, version int) (*FlowVersion, error) {
	v, err := scanFlowVersion(q.q.QueryRowContext(ctx, flowVersionSelect+` AND v.version = $4`, projectID, pipeID, flowID, version))
	if err != nil {
		return nil, notFound(err, "flow version")
	}
	return v, nil
}
