package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/store"
)

// TestScheduleFires: a due time is recorded once; the latest of each
// schedule is found and outlives pruning; a flow's active run is found.
func TestScheduleFires(t *testing.T) {
	eachClocked(t, func(t *testing.T, st *store.Store, clk *testClock) {
		ctx := context.Background()
		w := st.Writer()
		owner := newUser(t, w, "owner@example.com")
		p := newProject(t, w, "A", owner.ID)
		f := newFlow(t, st, newPipe(t, w, p.ID, "pipe"), "f", `{"name":"f"}`, owner.ID)
		at := func(h int) time.Time { return time.Date(2026, time.June, 1, h, 0, 0, 0, time.UTC) }

		for h := 1; h <= 3; h++ {
			ok, err := w.InsertScheduleFire(ctx, &store.ScheduleFire{FlowID: f.ID, ScheduleIndex: 0, FireAt: at(h), Schedule: "0 * * * * UTC", Outcome: store.FireStarted, RunID: "r"})
			if err != nil || !ok {
				t.Fatalf("fire %d: %v, %v", h, ok, err)
			}
		}
		if ok, err := w.InsertScheduleFire(ctx, &store.ScheduleFire{FlowID: f.ID, ScheduleIndex: 0, FireAt: at(2), Schedule: "x", Outcome: store.FireSkipped}); err != nil || ok {
			t.Fatalf("the same due time again: %v, %v; want false, nil", ok, err)
		}
		if _, err := w.InsertScheduleFire(ctx, &store.ScheduleFire{FlowID: f.ID, ScheduleIndex: 1, FireAt: at(1), Schedule: "y", Outcome: store.FireMissed, MissedCount: 3}); err != nil {
			t.Fatal(err)
		}
		last, err := st.Reader().LastScheduleFires(ctx, "")
		if err != nil || !last[store.ScheduleKey{FlowID: f.ID, Index: 0}].Equal(at(3)) || !last[store.ScheduleKey{FlowID: f.ID, Index: 1}].Equal(at(1)) || len(last) != 2 {
			t.Fatalf("last fires %v, %v", last, err)
		}
		if n, err := w.PruneScheduleFires(ctx, at(5)); err != nil || n != 2 {
			t.Fatalf("pruned %d, %v; want 2 (the latest of each schedule stays)", n, err)
		}
		list, err := st.Reader().ListScheduleFires(ctx, f.ID, 10)
		if err != nil || len(list) != 2 || !list[0].FireAt.Equal(at(3)) || list[1].MissedCount != 3 || list[0].RunID != "r" {
			t.Fatalf("after pruning: %+v, %v", list, err)
		}

		if id, err := st.Reader().ActiveRunOfFlow(ctx, f.ID); err != nil || id != "" {
			t.Fatalf("active run of an idle flow: %q, %v", id, err)
		}
		r := &store.Run{ProjectID: p.ID, FlowID: f.ID, PipeID: f.PipeID, Trigger: store.TriggerManual}
		if err := w.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		if id, err := st.Reader().ActiveRunOfFlow(ctx, f.ID); err != nil || id != r.ID {
			t.Fatalf("active run %q, %v; want %s", id, err, r.ID)
		}

		// Only enabled flows of enabled pipes are scheduled.
		if ok, err := st.Reader().FlowSchedulable(ctx, f.ID, f.Version); err != nil || ok {
			t.Fatalf("a disabled flow is schedulable: %v, %v", ok, err)
		}
		f.Enabled = true
		if err := w.SetFlowEnabled(ctx, f); err != nil {
			t.Fatal(err)
		}
		if ok, _ := st.Reader().FlowSchedulable(ctx, f.ID, f.Version); !ok {
			t.Fatal("an enabled flow is not schedulable")
		}
		if ok, _ := st.Reader().FlowSchedulable(ctx, f.ID, f.Version+1); ok {
			t.Fatal("a flow at another version is schedulable")
		}
	})
}
