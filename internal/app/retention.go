package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/store"
)

// ApplyPlanRetention writes the plans' retention days --plan-retention
// gives to the plans table, in one transaction: a plan that does not
// exist stops start-up with the plans there are, and changes nothing.
func ApplyPlanRetention(ctx context.Context, st *store.Store, days []config.PlanDays) error {
	if len(days) == 0 {
		return nil
	}
	return st.InTx(ctx, func(q *store.Q) error {
		for _, d := range days {
			err := q.SetPlanRetention(ctx, d.Plan, d.RunLogDays, d.ConsoleLogDays, d.AuditDays)
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("--plan-retention: there is no plan %q; the plans are %s", d.Plan, planIDs(ctx, q))
			}
			if err != nil {
				return fmt.Errorf("--plan-retention: plan %q: %w", d.Plan, err)
			}
		}
		return nil
	})
}

// planIDs lists the plans' IDs for an error message.
func planIDs(ctx context.Context, q *store.Q) string {
	plans, err := q.ListPlans(ctx)
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	ids := make([]string, len(plans))
	for i, p := range plans {
		ids[i] = p.ID
	}
	return strings.Join(ids, ", ")
}
