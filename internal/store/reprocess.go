package store

import (
	"context"
	"fmt"
)

// ReprocessableIDs lists the distinct entity IDs of a run's failures that
// have an entity ID and were not reprocessed yet, in order.
func (q *Q) ReprocessableIDs(ctx context.Context, runID string) ([]string, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT DISTINCT entity_id FROM run_failures
		WHERE run_id = $1 AND entity_id <> '' AND reprocessed_by IS NULL ORDER BY entity_id`, runID)
	if err != nil {
		return nil, fmt.Errorf("store: list reprocessable failures: %w", err)
	}
	return scanStrings(rows, "list reprocessable failures")
}

// FailedEntityIDs says which of ids are entity IDs of failures of a run.
func (q *Q) FailedEntityIDs(ctx context.Context, runID string, ids []string) (map[string]bool, error) {
	found := make(map[string]bool, len(ids))
	for len(ids) > 0 {
		n := min(len(ids), 500)
		args := []any{runID}
		in := ""
		for i, id := range ids[:n] {
			if i > 0 {
				in += ", "
			}
			args = append(args, id)
			in += fmt.Sprintf("$%d", len(args))
		}
		rows, err := q.q.QueryContext(ctx, `SELECT DISTINCT entity_id FROM run_failures WHERE run_id = $1 AND entity_id IN (`+in+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("store: find run failures: %w", err)
		}
		got, err := scanStrings(rows, "find run failures")
		if err != nil {
			return nil, err
		}
		for _, id := range got {
			found[id] = true
		}
		ids = ids[n:]
	}
	return found, nil
}

// AddReprocessIDs stores the entity IDs a reprocess run is to fetch again.
func (q *Q) AddReprocessIDs(ctx context.Context, runID string, ids []string) error {
	for len(ids) > 0 {
		n := min(len(ids), 100)
		rows := make([][]any, 0, n)
		for _, id := range ids[:n] {
			rows = append(rows, []any{runID, id})
		}
		if err := q.multiInsert(ctx, "add reprocess ids", `INSERT INTO run_reprocess_ids (run_id, entity_id) VALUES `, 2, rows); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// ReprocessIDs lists a reprocess run's entity IDs in order, after the ID
// after (paging), at most limit.
func (q *Q) ReprocessIDs(ctx context.Context, runID, after string, limit int) ([]string, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := q.q.QueryContext(ctx, `SELECT entity_id FROM run_reprocess_ids WHERE run_id = $1 AND entity_id > $2
		ORDER BY entity_id LIMIT $3`, runID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: list reprocess ids: %w", err)
	}
	return scanStrings(rows, "list reprocess ids")
}

// MarkReprocessed records that the reprocess run runID reprocessed the
// failures of its parent whose entity IDs it fetched and did not fail
// again; a failure that failed again stays unmarked. It returns how many
// failures it marked.
func (q *Q) MarkReprocessed(ctx context.Context, parentID, runID string) (int64, error) {
	res, err := q.q.ExecContext(ctx, `UPDATE run_failures SET reprocessed_by = $1
		WHERE run_id = $2 AND reprocessed_by IS NULL
		AND entity_id IN (SELECT entity_id FROM run_reprocess_ids WHERE run_id = $1)
		AND entity_id NOT IN (SELECT entity_id FROM run_failures WHERE run_id = $1)`, runID, parentID)
	if err != nil {
		return 0, fmt.Errorf("store: mark failures reprocessed: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: mark failures reprocessed: %w", err)
	}
	return n, nil
}

func scanStrings(rows interface {
	Next() bool
	Scan(...any) error
	Err() error
	Close() error
}, what string) ([]string, error) {
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("store: %s: %w", what, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return out, nil
}
