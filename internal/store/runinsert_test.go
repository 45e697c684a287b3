package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

// TestInsertRuns: whole run rows, finished or running, read back as
// written, through the first transaction (statement not yet prepared) and
// the later ones (prepared), and past the 64 rows of one PostgreSQL
// statement.
func TestInsertRuns(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := st.Writer()
		owner := newUser(t, w, "owner@example.com")
		p := newProject(t, w, "A", owner.ID)
		pipe := newPipe(t, w, p.ID, "pipe")
		f := newFlow(t, st, pipe, "flow", `{"name":"flow"}`, owner.ID)
		start := st.Now().Add(-time.Second)
		var all []*store.Run
		for round, n := range []int{1, 3, 70} {
			var rs []*store.Run
			for i := range n {
				end := start.Add(time.Duration(i+1) * time.Millisecond)
				r := &store.Run{ProjectID: p.ID, FlowID: f.ID, PipeID: pipe.ID, Trigger: store.TriggerDynamic,
					TriggeredBy: fmt.Sprintf("c%d-%d", round, i), Status: store.RunPartiallyFailed, Error: "1 of 3 records failed",
					StartedAt: &start, FinishedAt: &end, Read: 3, Succeeded: 1, Failed: 1, Skipped: 1}
				if i%2 == 1 {
					r.Status, r.Error, r.FinishedAt, r.HeartbeatAt = store.RunRunning, "", nil, &end
				}
				rs = append(rs, r)
			}
			if err := st.InTx(ctx, func(q *store.Q) error { return q.InsertRuns(ctx, rs) }); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			all = append(all, rs...)
		}
		for _, want := range all {
			got, err := st.Reader().RunByID(ctx, p.ID, want.ID)
			if err != nil {
				t.Fatal(err)
			}
			same := got.Status == want.Status && got.Error == want.Error && got.TriggeredBy == want.TriggeredBy &&
				got.Read == 3 && got.Succeeded == 1 && got.Failed == 1 && got.Skipped == 1 &&
				got.CreatedAt.Equal(want.CreatedAt) && got.StartedAt != nil && got.StartedAt.Equal(start) &&
				(got.FinishedAt == nil) == (want.FinishedAt == nil) && (got.HeartbeatAt == nil) == (want.HeartbeatAt == nil)
			if same && want.FinishedAt != nil {
				same = got.FinishedAt.Equal(*want.FinishedAt)
			}
			if !same {
				t.Fatalf("run read back %+v, written %+v", got, want)
			}
		}
		// A row that breaks a constraint fails the insert, not silently.
		bad := []*store.Run{{ProjectID: p.ID, FlowID: "no-such-flow", PipeID: pipe.ID, Trigger: store.TriggerDynamic, Status: store.RunCompleted}}
		if err := st.InTx(ctx, func(q *store.Q) error { return q.InsertRuns(ctx, bad) }); err == nil {
			t.Fatal("a run of an unknown flow was inserted")
		}
	})
}
