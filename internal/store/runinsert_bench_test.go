package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

// BenchmarkInsertRuns is what recording a finished dynamic call costs the
// SQLite store: whole run rows written in one transaction per batch, as
// the journal of dynamic runs does (internal/runs/journal.go). One op is
// one run; the sizes bracket the batches W2's load makes. It is the floor
// of a recorded call's CPU, beside the HTTP work a bare handler pays too
// (bench/README.md, W2).
func BenchmarkInsertRuns(b *testing.B) {
	for _, batch := range []int{1, 10, 30} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			ctx := context.Background()
			st := storetest.Open(b, store.SQLite, store.Options{})
			w := st.Writer()
			u := &store.User{Email: "o@example.com", Name: "O", PasswordHash: "$argon2id$x"}
			if err := w.CreateUser(ctx, u); err != nil {
				b.Fatal(err)
			}
			p := &store.Project{Name: "P", OwnerID: u.ID, PlanID: "default", Settings: `{}`}
			if err := w.CreateProject(ctx, p); err != nil {
				b.Fatal(err)
			}
			pipe := &store.Pipe{ProjectID: p.ID, Name: "calls", ConsoleLog: `{}`}
			if err := w.CreatePipe(ctx, pipe); err != nil {
				b.Fatal(err)
			}
			f := &store.Flow{PipeID: pipe.ID, ProjectID: p.ID, Name: "f", Definition: `{}`, CreatedBy: u.ID}
			if err := st.InTx(ctx, func(q *store.Q) error { return q.CreateFlow(ctx, f) }); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i += batch {
				rs := make([]*store.Run, min(batch, b.N-i))
				for j := range rs {
					now := st.Now()
					rs[j] = &store.Run{ProjectID: p.ID, FlowID: f.ID, PipeID: pipe.ID, Trigger: store.TriggerDynamic, TriggeredBy: "erp",
						Status: store.RunCompleted, StartedAt: &now, FinishedAt: &now, Read: 1, Succeeded: 1}
				}
				if err := st.InTx(ctx, func(q *store.Q) error { return q.InsertRuns(ctx, rs) }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
