package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

// TestRetentionPlans: the 0014 migration adds free, standard and
// enterprise beside the default plan, which stays the default;
// SetPlanRetention changes a plan's days and refuses an unknown plan.
func TestRetentionPlans(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		want := map[string][3]int{"default": {30, 7, 365}, "free": {7, 3, 90}, "standard": {30, 7, 365}, "enterprise": {90, 30, 730}}
		plans, err := st.Reader().ListPlans(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][3]int{}
		for _, p := range plans {
			got[p.ID] = [3]int{p.RunLogRetentionDays, p.ConsoleLogRetentionDays, p.AuditRetentionDays}
			if p.Default != (p.ID == "default") {
				t.Errorf("plan %s default = %v", p.ID, p.Default)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("plans %v, want %v", got, want)
		}
		for id, days := range want {
			if got[id] != days {
				t.Errorf("plan %s days %v, want %v", id, got[id], days)
			}
		}
		if err := st.Writer().SetPlanRetention(ctx, "free", 5, 2, 60); err != nil {
			t.Fatal(err)
		}
		if p, err := st.Reader().PlanByID(ctx, "free"); err != nil || p.RunLogRetentionDays != 5 || p.ConsoleLogRetentionDays != 2 || p.AuditRetentionDays != 60 {
			t.Fatalf("free after the change: %+v, %v", p, err)
		}
		if err := st.Writer().SetPlanRetention(ctx, "platinum", 1, 1, 1); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown plan: %v, want ErrNotFound", err)
		}
	})
}

// TestDeleteFinishedRuns: only finished runs created before the date are
// listed and deleted, with their failures; a run that started running
// after it was listed is kept.
func TestDeleteFinishedRuns(t *testing.T) {
	eachClocked(t, func(t *testing.T, st *store.Store, clk *testClock) {
		ctx := context.Background()
		w := st.Writer()
		owner := newUser(t, w, "owner@example.com")
		p := newProject(t, w, "A", owner.ID)
		other := newProject(t, w, "B", owner.ID)
		pipe := newPipe(t, w, p.ID, "pipe")
		f := newFlow(t, st, pipe, "flow", `{"name":"flow"}`, owner.ID)
		opipe := newPipe(t, w, other.ID, "pipe")
		of := newFlow(t, st, opipe, "flow", `{"name":"flow"}`, owner.ID)
		mk := func(status string, pr *store.Project, pp *store.Pipe, fl *store.Flow) *store.Run {
			r := &store.Run{ProjectID: pr.ID, FlowID: fl.ID, PipeID: pp.ID, Trigger: store.TriggerManual, Status: status}
			if err := w.CreateRun(ctx, r); err != nil {
				t.Fatal(err)
			}
			return r
		}
		old := []*store.Run{mk(store.RunCompleted, p, pipe, f), mk(store.RunFailed, p, pipe, f), mk(store.RunCancelled, p, pipe, f)}
		running, queued := mk(store.RunRunning, p, pipe, f), mk(store.RunQueued, p, pipe, f)
		otherOld := mk(store.RunCompleted, other, opipe, of)
		if err := st.InTx(ctx, func(q *store.Q) error {
			return q.InsertRunFailures(ctx, []store.RunFailure{{RunID: old[1].ID, Stage: "write", Error: "refused"}})
		}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(48 * time.Hour)
		cut := st.Now().Add(-time.Hour)
		recent := mk(store.RunCompleted, p, pipe, f)

		ids, err := st.Reader().FinishedRunIDs(ctx, p.ID, cut, 2)
		if err != nil || !slices.Equal(ids, []string{old[0].ID, old[1].ID}) {
			t.Fatalf("first page %v, %v; want the two oldest finished runs", ids, err)
		}
		ids, err = st.Reader().FinishedRunIDs(ctx, p.ID, cut, 500)
		if err != nil || len(ids) != 3 {
			t.Fatalf("finished runs %v, %v; want 3", ids, err)
		}
		// A run of another project is not deleted through this one; a run
		// that is running by now is kept.
		n, err := w.DeleteFinishedRuns(ctx, p.ID, append(ids, running.ID, queued.ID, otherOld.ID, recent.ID))
		if err != nil || n != 4 {
			t.Fatalf("deleted %d, %v; want 4 (three old and the recent one named)", n, err)
		}
		for _, r := range []*store.Run{running, queued} {
			if _, err := st.Reader().RunByID(ctx, p.ID, r.ID); err != nil {
				t.Errorf("%s run: %v", r.Status, err)
			}
		}
		if _, err := st.Reader().RunByID(ctx, other.ID, otherOld.ID); err != nil {
			t.Errorf("the other project's run: %v", err)
		}
		if n := countRows(t, st, `SELECT COUNT(*) FROM run_failures WHERE run_id = $1`, old[1].ID); n != 0 {
			t.Errorf("%d failures of a deleted run left", n)
		}
		if n, err := w.DeleteFinishedRuns(ctx, p.ID, ids); err != nil || n != 0 {
			t.Fatalf("deleting again: %d, %v", n, err)
		}
	})
}

// TestDeleteAuditThrough: deleting a prefix of the log moves the anchor
// to the last event deleted, which the first event kept follows.
func TestDeleteAuditThrough(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		if _, err := st.Reader().GetAuditAnchor(ctx); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("anchor before any deletion: %v", err)
		}
		prev := ""
		for i := range 5 {
			e := &store.AuditEvent{ID: store.NewID(), At: st.Now(), Action: "test", Outcome: "success", Detail: "{}",
				PrevHash: prev, Hash: strings.Repeat(string(rune('a'+i)), 64)}
			if err := st.InTx(ctx, func(q *store.Q) error { return q.InsertAuditEvent(ctx, e) }); err != nil {
				t.Fatal(err)
			}
			prev = e.Hash
		}
		first, err := st.Reader().OldestAuditEvents(ctx, 3)
		if err != nil || len(first) != 3 {
			t.Fatalf("oldest: %v, %v", first, err)
		}
		if _, err := st.Writer().DeleteAuditThrough(ctx, first[2]); err == nil {
			t.Fatal("deleted audit events outside a transaction")
		}
		var n int64
		if err := st.InTx(ctx, func(q *store.Q) (err error) { n, err = q.DeleteAuditThrough(ctx, first[2]); return err }); err != nil || n != 3 {
			t.Fatalf("deleted %d, %v; want 3", n, err)
		}
		a, err := st.Reader().GetAuditAnchor(ctx)
		if err != nil || a.ThroughSeq != first[2].Seq || a.ThroughHash != first[2].Hash {
			t.Fatalf("anchor %+v, %v; want event %d", a, err, first[2].Seq)
		}
		rest, err := st.Reader().OldestAuditEvents(ctx, 10)
		if err != nil || len(rest) != 2 || rest[0].PrevHash != a.ThroughHash {
			t.Fatalf("left %d events, the first following %q; want 2 following the anchor %q", len(rest), rest[0].PrevHash, a.ThroughHash)
		}
		if err := st.InTx(ctx, func(q *store.Q) (err error) { n, err = q.DeleteAuditThrough(ctx, rest[0]); return err }); err != nil || n != 1 {
			t.Fatalf("second cut: %d, %v", n, err)
		}
		if a, _ := st.Reader().GetAuditAnchor(ctx); a.ThroughSeq != rest[0].Seq {
			t.Fatalf("anchor did not move: %+v", a)
		}
	})
}

// TestSQLiteReclaimsSpace: a new SQLite database is created with
// auto_vacuum=INCREMENTAL, and ReclaimSpace gives the pages a deletion
// freed back, so the file shrinks.
func TestSQLiteReclaimsSpace(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sluice.db")
	st, err := store.OpenSQLite(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var mode int
	if err := st.WriteDB().QueryRowContext(ctx, `PRAGMA auto_vacuum`).Scan(&mode); err != nil || mode != 2 {
		t.Fatalf("auto_vacuum = %d, %v; want 2 (incremental)", mode, err)
	}
	db := st.WriteDB()
	if _, err := db.ExecContext(ctx, `CREATE TABLE filler (v TEXT)`); err != nil {
		t.Fatal(err)
	}
	for range 200 {
		if _, err := db.ExecContext(ctx, `INSERT INTO filler (v) VALUES ($1)`, strings.Repeat("x", 8000)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM filler`); err != nil {
		t.Fatal(err)
	}
	freelist := func() int {
		var n int
		if err := db.QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if freelist() == 0 {
		t.Fatal("the deletion freed no page")
	}
	if err := st.ReclaimSpace(ctx); err != nil {
		t.Fatal(err)
	}
	if n := freelist(); n != 0 {
		t.Fatalf("%d free pages left after ReclaimSpace", n)
	}
	if _, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() > 1<<20 {
		t.Fatalf("database file after reclaiming: %v bytes, %v", fi.Size(), err)
	}
}
