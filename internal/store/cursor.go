package store

import (
	"context"
	"fmt"
)

// MaxCursorState bounds a flow's incremental cursor state: a cursor is one
// value (a time, a number, an opaque token), never a document.
const MaxCursorState = 4096

// FlowCursorState is the incremental cursor state of a flow ("" when no
// run kept one yet). A flow that does not exist is ErrNotFound.
func (q *Q) FlowCursorState(ctx context.Context, flowID string) (string, error) {
	var state string
	err := q.q.QueryRowContext(ctx, `SELECT cursor_state FROM flows WHERE id = $1`, flowID).Scan(&state)
	if err != nil {
		return "", notFound(err, "flow")
	}
	return state, nil
}

// SetFlowCursorState keeps the incremental cursor state of a flow, for its
// next run. A flow deleted meanwhile is ErrNotFound; a state longer than
// MaxCursorState is refused.
func (q *Q) SetFlowCursorState(ctx context.Context, flowID, state string) error {
	if len(state) > MaxCursorState {
		return fmt.Errorf("store: set flow cursor state: %d bytes, more than the %d allowed", len(state), MaxCursorState)
	}
	res, err := q.q.ExecContext(ctx, `UPDATE flows SET cursor_state = $1 WHERE id = $2`, state, flowID)
	if err != nil {
		return fmt.Errorf("store: set flow cursor state: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: set flow cursor state: %w", err)
	} else if n == 0 {
		return fmt.Errorf("store: set flow cursor state: flow %s: %w", flowID, ErrNotFound)
	}
	return nil
}
