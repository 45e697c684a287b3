package runs_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/runs"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

// pureDoc answers without writing or calling out: its runs are written
// once, when they end.
const pureDoc = `name: %s
trigger: {dynamic: {mode: sync, timeout: 5s}}
entity_id: .id
steps:
  - fail: 'if .total < 0 then "total must not be negative" else null end'
  - map: '{id, total: (.total + 1)}'
  - respond: '{accepted: .id, total}'
`

// TestCallSyncGroupCommit: many calls at once, their runs group-committed,
// each recorded once with its outcome and failures.
func TestCallSyncGroupCommit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := newWorld(t, st)
		w.s.SetDynamic(runs.DynamicOptions{Concurrency: 64})
		f := w.callable(t, "orders", pureDoc)
		const callers, each = 24, 10
		type call struct {
			runID string
			total int
		}
		var (
			mu    sync.Mutex
			calls []call
			errs  []error
			wg    sync.WaitGroup
		)
		for g := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					total := g*100 + i
					if i == 3 {
						total = -1 // rejected by the flow: a failure with its entity ID
					}
					res, err := w.s.CallSync(ctx, f.ProjectID, f.ID, "erp", []any{map[string]any{"id": fmt.Sprintf("G%d-%d", g, i), "total": total}})
					mu.Lock()
					if err != nil {
						errs = append(errs, err)
					} else {
						calls = append(calls, call{res.RunID, total})
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(errs) > 0 {
			t.Fatalf("%d calls failed, first: %v", len(errs), errs[0])
		}
		seen := map[string]bool{}
		for _, c := range calls {
			if seen[c.runID] {
				t.Fatalf("run %s answered twice", c.runID)
			}
			seen[c.runID] = true
			r := w.load(t, c.runID)
			want := store.RunCompleted
			if c.total < 0 {
				want = store.RunFailed
			}
			if r.Status != want || r.Read != 1 || r.Trigger != store.TriggerDynamic || r.TriggeredBy != "erp" ||
				r.StartedAt == nil || r.FinishedAt == nil || r.FinishedAt.Before(*r.StartedAt) {
				t.Fatalf("run %+v, want %s with one record read", r, want)
			}
			if c.total < 0 {
				fs, err := w.s.Failures(ctx, f.ProjectID, c.runID, 0, 10)
				if err != nil || len(fs) != 1 || !strings.HasSuffix(fs[0].EntityID, "-3") {
					t.Fatalf("failures of %s: %+v %v", c.runID, fs, err)
				}
			}
		}
		var all []*store.Run
		for before := ""; ; {
			page, err := w.s.List(ctx, store.RunFilter{ProjectID: f.ProjectID, Before: before, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, page...)
			if len(page) < 100 {
				break
			}
			before = page[len(page)-1].ID
		}
		if len(all) != callers*each {
			t.Fatalf("%d runs recorded, want %d", len(all), callers*each)
		}
	})
}

// TestCallSyncShowsRunning: a run that goes on past ShowRunningAfter is
// written as running, with a heartbeat, and can be cancelled; a shorter
// one is only written when it ends.
func TestCallSyncShowsRunning(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := newWorld(t, st)
		w.s.SetDynamic(runs.DynamicOptions{ShowRunningAfter: 20 * time.Millisecond})
		f := w.callable(t, "orders", pureDoc)
		g := newGate(w.s)
		out := make(chan error, 1)
		go func() {
			_, err := w.s.CallSync(ctx, f.ProjectID, f.ID, "erp", []any{map[string]any{"id": "L1", "total": 1}})
			out <- err
		}()
		id := <-g.entered
		var r *store.Run
		for range 500 {
			if got, err := st.Reader().RunByID(ctx, f.ProjectID, id); err == nil {
				r = got
				break
			} else if !errors.Is(err, store.ErrNotFound) {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if r == nil || r.Status != store.RunRunning || r.HeartbeatAt == nil || r.StartedAt == nil {
			t.Fatalf("a run going on past ShowRunningAfter: %+v", r)
		}
		if !w.s.Cancel(id) {
			t.Fatal("the running dynamic run cannot be cancelled on its node")
		}
		if err := <-out; err == nil || !strings.Contains(err.Error(), "cancelled") {
			t.Fatalf("call of a cancelled run: %v", err)
		}
		if r := w.load(t, id); r.Status != store.RunCancelled || r.FinishedAt == nil {
			t.Fatalf("cancelled run %+v", r)
		}
	})
}

// TestCallSyncUnrecordedRun: a call whose run cannot be recorded (its
// project was deleted while the flow row was trusted) gets an error, never
// the flow's answer.
func TestCallSyncUnrecordedRun(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := newWorld(t, st)
		w.s.FlowRowTTL = time.Hour
		f := w.callable(t, "orders", pureDoc)
		rec := []any{map[string]any{"id": "U1", "total": 1}}
		if _, err := w.s.CallSync(ctx, f.ProjectID, f.ID, "erp", rec); err != nil {
			t.Fatal(err)
		}
		if err := st.Writer().DeleteProject(ctx, f.ProjectID); err != nil {
			t.Fatal(err)
		}
		res, err := w.s.CallSync(ctx, f.ProjectID, f.ID, "erp", rec)
		if err == nil || res != nil || !strings.Contains(err.Error(), "recording the run") {
			t.Fatalf("got %+v, %v; want an error recording the run", res, err)
		}
	})
}
