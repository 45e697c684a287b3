package runs

import (
	"context"
	"errors"
	"testing"

	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

// TestJournalIsolatesABadEntry: when a group commit fails because of one
// entry, that entry gets the error and the others are written.
func TestJournalIsolatesABadEntry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := st.Writer()
		u := &store.User{Email: "o@example.com", Name: "O", PasswordHash: "$argon2id$x"}
		if err := w.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		p := &store.Project{Name: "P", OwnerID: u.ID, PlanID: "default", Settings: `{}`}
		if err := w.CreateProject(ctx, p); err != nil {
			t.Fatal(err)
		}
		pipe := &store.Pipe{ProjectID: p.ID, Name: "calls", ConsoleLog: `{"enabled":false}`}
		if err := w.CreatePipe(ctx, pipe); err != nil {
			t.Fatal(err)
		}
		f := &store.Flow{PipeID: pipe.ID, ProjectID: p.ID, Name: "f", Definition: `{"name":"f"}`, CreatedBy: u.ID}
		if err := st.InTx(ctx, func(q *store.Q) error { return q.CreateFlow(ctx, f) }); err != nil {
			t.Fatal(err)
		}
		s := NewService(st, t.TempDir(), nil)
		entry := func(flowID string) *journalEntry {
			now := st.Now()
			r := &store.Run{ID: store.NewID(), ProjectID: p.ID, FlowID: flowID, PipeID: pipe.ID, Trigger: store.TriggerDynamic,
				TriggeredBy: "erp", Status: store.RunFailed, Error: "all 1 records failed", CreatedAt: now, StartedAt: &now, FinishedAt: &now, Read: 1, Failed: 1}
			return &journalEntry{run: r, insert: true, done: make(chan journalResult, 1),
				failures: []store.RunFailure{{RunID: r.ID, EntityID: "E-" + r.ID[:8], Stage: "steps[0].map", Error: "boom", Attempts: 1}}}
		}
		// The bad entry's flow does not exist (deleted meanwhile): its row
		// breaks the foreign key, and with it the batch's transaction.
		good1, bad, good2 := entry(f.ID), entry(store.NewID()), entry(f.ID)
		s.commitJournal([]*journalEntry{good1, bad, good2})
		for _, e := range []*journalEntry{good1, good2} {
			if r := <-e.done; r.err != nil {
				t.Fatalf("a good entry failed with the bad one: %v", r.err)
			}
			got, err := st.Reader().RunByID(ctx, p.ID, e.run.ID)
			if err != nil || got.Status != store.RunFailed || got.Failed != 1 {
				t.Fatalf("good entry's run %+v %v", got, err)
			}
			fs, err := st.Reader().ListRunFailures(ctx, e.run.ID, 0, 10)
			if err != nil || len(fs) != 1 || fs[0].EntityID != e.failures[0].EntityID {
				t.Fatalf("good entry's failures %+v %v", fs, err)
			}
		}
		if r := <-bad.done; r.err == nil {
			t.Fatal("the entry of an unknown flow was written")
		}
		if _, err := st.Reader().RunByID(ctx, "", bad.run.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the bad entry's run: %v", err)
		}
	})
}
