package runs

import (
	"context"
	"fmt"

	"github.com/sluice-dev/sluice/internal/connector"
	httpconn "github.com/sluice-dev/sluice/internal/connectors/http"
	"github.com/sluice-dev/sluice/internal/store"
)

// An incremental read (an http read with read.incremental) sends the
// largest cursor value of the flow's last run that read its source to the
// end and completed or partially failed, and keeps the largest value of
// this run for the next one. The value lives on the flow (its cursor
// state), so it survives restarts and is the same on every node. A run
// that failed or was cancelled keeps the old value: its records are read
// again by the next run (at least once). A reprocess run fetches records
// by ID and leaves the value alone.

// giveCursor gives the flow's cursor state to a source that reads
// incrementally, before it is opened or resumed.
func (s *Service) giveCursor(ctx context.Context, flowID string, src connector.Source) error {
	cs, ok := src.(httpconn.CursorSource)
	if !ok {
		return nil
	}
	state, err := s.st.Reader().FlowCursorState(ctx, flowID)
	if err != nil {
		return fmt.Errorf("reading the flow's incremental cursor: %w", err)
	}
	if state == "" {
		return nil
	}
	return cs.SetSince(state)
}

// keepCursor stores the largest cursor value src read as the flow's
// cursor state, inside the transaction that finishes run.
func (s *Service) keepCursor(ctx context.Context, q *store.Q, run *store.Run, src connector.Source) error {
	if run.Trigger == store.TriggerReprocess || (run.Status != store.RunCompleted && run.Status != store.RunPartiallyFailed) {
		return nil
	}
	cs, ok := src.(httpconn.CursorSource)
	if !ok {
		return nil
	}
	v, ok := cs.Cursor()
	if !ok {
		return nil
	}
	if len(v) > store.MaxCursorState {
		// The run's records are written; only the next run's start is
		// lost, and it reads from the old value (at least once).
		s.log.Warn("runs: the incremental cursor value is too long to keep; pick a shorter field in read.incremental.cursor",
			"run", run.ID, "flow", run.FlowID, "bytes", len(v), "max", store.MaxCursorState)
		return nil
	}
	return q.SetFlowCursorState(ctx, run.FlowID, v)
}
