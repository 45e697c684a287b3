package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// DynamicBodiesTable is the table async call bodies are sealed in; with
// the run ID and DynamicBodyField it is the sealed body's AAD.
const (
	DynamicBodiesTable = "dynamic_bodies"
	DynamicBodyField   = "body"
)

// FlowInProject loads a flow of a project by ID, whatever its pipe (a
// dynamic call names the project and the flow only).
func (q *Q) FlowInProject(ctx context.Context, projectID, id string) (*Flow, error) {
	f, err := scanFlow(q.queryRowPrepared(ctx, `SELECT `+flowColumns+` FROM flows WHERE project_id = $1 AND id = $2`,
		projectID, id))
	if err != nil {
		return nil, notFound(err, "flow")
	}
	return f, nil
}

// PutDynamicBody stores the sealed body of an async call's run.
func (q *Q) PutDynamicBody(ctx context.Context, runID, sealed string) error {
	if _, err := q.q.ExecContext(ctx, `INSERT INTO dynamic_bodies (run_id, sealed, created_at) VALUES ($1, $2, $3)`,
		runID, sealed, q.Now()); err != nil {
		return fmt.Errorf("store: put dynamic body: %w", err)
	}
	return nil
}

// TakeDynamicBody loads and deletes the sealed body of a run: a body is
// taken once. ErrNotFound when there is none (taken already).
func (q *Q) TakeDynamicBody(ctx context.Context, runID string) (string, error) {
	var sealed string
	err := q.q.QueryRowContext(ctx, `SELECT sealed FROM dynamic_bodies WHERE run_id = $1`, runID).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("store: dynamic body: %w", ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("store: take dynamic body: %w", err)
	}
	if _, err := q.q.ExecContext(ctx, `DELETE FROM dynamic_bodies WHERE run_id = $1`, runID); err != nil {
		return "", fmt.Errorf("store: delete dynamic body: %w", err)
	}
	return sealed, nil
}

// DeleteDynamicBody removes a run's body if it is still there.
func (q *Q) DeleteDynamicBody(ctx context.Context, runID string) error {
	if _, err := q.q.ExecContext(ctx, `DELETE FROM dynamic_bodies WHERE run_id = $1`, runID); err != nil {
		return fmt.Errorf("store: delete dynamic body: %w", err)
	}
	return nil
}
