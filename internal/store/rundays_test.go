package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

// TestRunDays: runs summed per UTC day in the database, a run just before
// and just after midnight UTC on its own day (also when its time was
// written in another zone), days before since left out; and the recent
// failed runs, newest first, only failed or partly failed ones, at most
// the limit.
func TestRunDays(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := st.Writer()
		owner := newUser(t, w, "owner@example.com")
		p := newProject(t, w, "A", owner.ID)
		other := newProject(t, w, "B", owner.ID)
		pipe := newPipe(t, w, p.ID, "pipe")
		f := newFlow(t, st, pipe, "flow", `{"name":"flow"}`, owner.ID)
		otherPipe := newPipe(t, w, other.ID, "pipe")
		otherFlow := newFlow(t, st, otherPipe, "flow", `{"name":"flow"}`, owner.ID)
		day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
		zone := time.FixedZone("UTC-5", -5*3600)
		var rs []*store.Run
		add := func(at time.Time, status string, ok, failed int64) {
			rs = append(rs, &store.Run{ProjectID: p.ID, FlowID: f.ID, PipeID: pipe.ID, Trigger: store.TriggerManual,
				Status: status, CreatedAt: at, Read: ok + failed, Succeeded: ok, Failed: failed})
		}
		add(day.Add(-time.Hour), store.RunFailed, 0, 100)                         // before since: left out
		add(day.Add(time.Minute), store.RunCompleted, 5, 0)                       // Nov 20
		add(day.Add(23*time.Hour+59*time.Minute), store.RunPartiallyFailed, 3, 2) // Nov 20, late
		add(day.Add(24*time.Hour).In(zone), store.RunCompleted, 7, 0)             // Nov 21 00:00 UTC, written as Nov 20 19:00-05
		add(day.Add(72*time.Hour+time.Hour), store.RunFailed, 0, 4)               // Nov 23
		rs = append(rs, &store.Run{ProjectID: other.ID, FlowID: otherFlow.ID, PipeID: otherPipe.ID, Trigger: store.TriggerManual,
			Status: store.RunFailed, CreatedAt: day.Add(time.Hour), Failed: 9}) // another project
		if err := st.InTx(ctx, func(q *store.Q) error { return q.InsertRuns(ctx, rs) }); err != nil {
			t.Fatal(err)
		}
		days, err := st.Reader().RunDays(ctx, p.ID, day)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, d := range days {
			got += fmt.Sprintf("%s:%d/%d/%d ", d.Day.Format(time.DateOnly), d.Runs, d.Succeeded, d.Failed)
		}
		if want := "2026-11-20:2/8/2 2026-11-21:1/7/0 2026-11-23:1/0/4 "; got != want {
			t.Errorf("days %q, want %q", got, want)
		}
		recent, err := st.Reader().RecentFailedRuns(ctx, p.ID, day, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(recent) != 2 || recent[0].Status != store.RunFailed || recent[1].Status != store.RunPartiallyFailed {
			t.Fatalf("recent failed runs: %d, want the Nov 23 failed run then the Nov 20 partly failed one", len(recent))
		}
		if one, _ := st.Reader().RecentFailedRuns(ctx, p.ID, day, 1); len(one) != 1 || one[0].ID != recent[0].ID {
			t.Errorf("with limit 1: %d runs", len(one))
		}
	})
}

// TestListRunsPages: pages of runs, newest first by creation time then ID,
// each run once even when several share a creation time; a cursor whose
// run was deleted ends the list.
func TestListRunsPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := st.Writer()
		owner := newUser(t, w, "owner@example.com")
		p := newProject(t, w, "A", owner.ID)
		pipe := newPipe(t, w, p.ID, "pipe")
		f := newFlow(t, st, pipe, "flow", `{"name":"flow"}`, owner.ID)
		at := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
		var rs []*store.Run
		for i := range 9 {
			// Three times, three runs each; inserted oldest time last.
			rs = append(rs, &store.Run{ProjectID: p.ID, FlowID: f.ID, PipeID: pipe.ID, Trigger: store.TriggerManual,
				Status: store.RunCompleted, CreatedAt: at.Add(time.Duration(2-i/3) * time.Minute)})
		}
		if err := st.InTx(ctx, func(q *store.Q) error { return q.InsertRuns(ctx, rs) }); err != nil {
			t.Fatal(err)
		}
		var seen []*store.Run
		filter := store.RunFilter{ProjectID: p.ID, Limit: 2}
		for range 10 {
			page, err := st.Reader().ListRuns(ctx, filter)
			if err != nil {
				t.Fatal(err)
			}
			seen = append(seen, page...)
			if len(page) < filter.Limit {
				break
			}
			filter.Before = page[len(page)-1].ID
		}
		if len(seen) != len(rs) {
			t.Fatalf("paging saw %d runs, want %d", len(seen), len(rs))
		}
		ids := map[string]bool{}
		for i, r := range seen {
			if ids[r.ID] {
				t.Fatalf("run %s listed twice", r.ID)
			}
			ids[r.ID] = true
			if i > 0 {
				prev := seen[i-1]
				if r.CreatedAt.After(prev.CreatedAt) || r.CreatedAt.Equal(prev.CreatedAt) && r.ID > prev.ID {
					t.Fatalf("run %d (%s %s) comes after %s %s: not newest first", i, r.CreatedAt, r.ID, prev.CreatedAt, prev.ID)
				}
			}
		}
		gone := seen[3].ID
		if err := st.InTx(ctx, func(q *store.Q) error { return q.DeleteRun(ctx, p.ID, gone) }); err != nil {
			t.Fatal(err)
		}
		if page, err := st.Reader().ListRuns(ctx, store.RunFilter{ProjectID: p.ID, Before: gone, Limit: 50}); err != nil || len(page) != 0 {
			t.Errorf("after a deleted cursor: %d runs, %v; want none", len(page), err)
		}
	})
}
