package store

import (
	"context"
	"fmt"
)

// JobCounts counts River's jobs by state (available, running, retryable,
// ...). River owns the river_job table; this only reads it.
func (q *Q) JobCounts(ctx context.Context) (map[string]int64, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT state, COUNT(*) FROM river_job GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("store: count jobs: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var state string
		var n int64
		if err := rows.Scan(&state, &n); err != nil {
			return nil, fmt.Errorf("store: count jobs: %w", err)
		}
		out[state] = n
	}
	return out, rows.Err()
}
