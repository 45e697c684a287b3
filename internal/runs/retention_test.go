package runs_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/runs"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

const day = 24 * time.Hour

func (c *clock) advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// eachClocked runs fn on a fresh store of every dialect whose clock is clk.
func eachRetention(t *testing.T, fn func(t *testing.T, st *store.Store, clk *clock)) {
	t.Helper()
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			clk := &clock{t: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}
			fn(t, storetest.Open(t, d, store.Options{Now: clk.Now}), clk)
		})
	}
}

// fakeLogs stands for consolelog.Service: it records what it was asked to
// delete and deletes the rows (there are no blobs); a log named in fail
// keeps its row and fails, as a blob that cannot be deleted does.
type fakeLogs struct {
	st     *store.Store
	mu     sync.Mutex
	runIDs []string
	logIDs []string
	fail   map[string]bool
}

func (f *fakeLogs) DeleteRunLogs(ctx context.Context, runIDs []string) error {
	f.mu.Lock()
	f.runIDs = append(f.runIDs, runIDs...)
	f.mu.Unlock()
	logs, err := f.st.Reader().ConsoleLogsOfRuns(ctx, runIDs)
	if err != nil {
		return err
	}
	return f.DeleteLogs(ctx, logs)
}

func (f *fakeLogs) DeleteLogs(ctx context.Context, logs []*store.ConsoleLog) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var errs []error
	for _, l := range logs {
		if f.fail[l.ID] {
			errs = append(errs, errors.New("blob store down"))
			continue
		}
		f.logIDs = append(f.logIDs, l.ID)
		if err := f.st.Writer().DeleteConsoleLog(ctx, l.ProjectID, l.ID); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (f *fakeLogs) took() (runIDs, logIDs []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.runIDs), slices.Clone(f.logIDs)
}

// retWorld is a user with projects, each with a pipe and a flow.
type retWorld struct {
	st   *store.Store
	user *store.User
}

type retProject struct {
	p    *store.Project
	pipe *store.Pipe
	flow *store.Flow
}

func newRetWorld(t *testing.T, st *store.Store) *retWorld {
	t.Helper()
	u := &store.User{Email: "owner@example.com", Name: "N", PasswordHash: "$argon2id$x"}
	if err := st.Writer().CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return &retWorld{st: st, user: u}
}

func (w *retWorld) project(t *testing.T, name, plan, settings string) *retProject {
	t.Helper()
	ctx := context.Background()
	p := &store.Project{Name: name, OwnerID: w.user.ID, PlanID: plan, Settings: settings}
	if err := w.st.Writer().CreateProject(ctx, p); err != nil {
		t.Fatal(err)
	}
	pipe := &store.Pipe{ProjectID: p.ID, Name: "pipe", ConsoleLog: `{"enabled":true}`}
	if err := w.st.Writer().CreatePipe(ctx, pipe); err != nil {
		t.Fatal(err)
	}
	f := &store.Flow{PipeID: pipe.ID, ProjectID: p.ID, Name: "flow", Definition: `{"name":"flow"}`, CreatedBy: w.user.ID}
	if err := w.st.InTx(ctx, func(q *store.Q) error { return q.CreateFlow(ctx, f) }); err != nil {
		t.Fatal(err)
	}
	return &retProject{p: p, pipe: pipe, flow: f}
}

// run makes a run of status, with a failure and a console log.
func (w *retWorld) run(t *testing.T, rp *retProject, status string) (*store.Run, *store.ConsoleLog) {
	t.Helper()
	ctx := context.Background()
	r := &store.Run{ProjectID: rp.p.ID, FlowID: rp.flow.ID, PipeID: rp.pipe.ID, Trigger: store.TriggerManual, Status: status}
	if err := w.st.Writer().CreateRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := w.st.InTx(ctx, func(q *store.Q) error {
		return q.InsertRunFailures(ctx, []store.RunFailure{{RunID: r.ID, EntityID: "e1", Stage: "write", Error: "refused"}})
	}); err != nil {
		t.Fatal(err)
	}
	l := &store.ConsoleLog{ProjectID: rp.p.ID, PipeID: rp.pipe.ID, FlowID: rp.flow.ID, RunID: r.ID, BlobKey: "console-logs/" + r.ID}
	if err := w.st.Writer().CreateConsoleLog(ctx, l); err != nil {
		t.Fatal(err)
	}
	return r, l
}

func (w *retWorld) event(t *testing.T, projectID, action string) *store.AuditEvent {
	t.Helper()
	var e *store.AuditEvent
	err := w.st.InTx(context.Background(), func(q *store.Q) (err error) {
		e, err = audit.Append(context.Background(), q, audit.Event{ProjectID: projectID, Action: action, Outcome: audit.Success})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (w *retWorld) hasRun(t *testing.T, r *store.Run) bool {
	t.Helper()
	_, err := w.st.Reader().RunByID(context.Background(), r.ProjectID, r.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

func (w *retWorld) hasLog(t *testing.T, l *store.ConsoleLog) bool {
	t.Helper()
	_, err := w.st.Reader().ConsoleLogByID(context.Background(), l.ProjectID, l.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

func (w *retWorld) failures(t *testing.T, r *store.Run) int {
	t.Helper()
	var n int
	if err := w.st.WriteDB().QueryRowContext(context.Background(), `SELECT COUNT(*) FROM run_failures WHERE run_id = $1`, r.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// purgeEvents lists the retention.purge events of a project ("" for the
// instance's), newest first, with their details.
func (w *retWorld) purgeEvents(t *testing.T, projectID string) []map[string]any {
	t.Helper()
	evs, err := w.st.Reader().ListAuditEvents(context.Background(), store.AuditFilter{ProjectID: projectID, Action: runs.ActionRetentionPurge, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, e := range evs {
		if projectID == "" && e.ProjectID != "" {
			continue
		}
		d := map[string]any{}
		if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

// TestRetentionPurgesRunsAndConsoleLogs: one pass deletes, per project,
// the console logs past the console-log retention (through the purger)
// and the finished runs past the run-log retention, with their failures
// (their console logs through the deleter first); newer ones and running
// or queued runs stay; a project's shorter retention is used; a second
// pass deletes nothing; the pass is in an audit event per project.
func TestRetentionPurgesRunsAndConsoleLogs(t *testing.T) {
	eachRetention(t, func(t *testing.T, st *store.Store, clk *clock) {
		ctx := context.Background()
		w := newRetWorld(t, st)
		// A: the default plan (30 run-log days, 7 console-log days),
		// shortened to 10 run-log days. B: the free plan (7, 3),
		// shortened to 2 run-log days, below its console-log days.
		a := w.project(t, "A", "default", `{"retention":{"run_log_days":10}}`)
		b := w.project(t, "B", "free", `{"retention":{"run_log_days":2}}`)
		c := w.project(t, "C", "default", `{}`)

		aOld, aOldLog := w.run(t, a, store.RunCompleted)
		aRunning, aRunningLog := w.run(t, a, store.RunRunning)
		aQueued, aQueuedLog := w.run(t, a, store.RunQueued)
		cOld, cOldLog := w.run(t, c, store.RunFailed) // 12 days: within C's 30, past its 7 console-log days
		clk.advance(4 * day)
		aMid, aMidLog := w.run(t, a, store.RunPartiallyFailed) // 8 days: within 10, past 7
		clk.advance(5*day + 12*time.Hour)
		bOld, bOldLog := w.run(t, b, store.RunCancelled) // 2.5 days: past 2, within 3
		clk.advance(2*day + 12*time.Hour)
		aNew, aNewLog := w.run(t, a, store.RunCompleted)
		bNew, bNewLog := w.run(t, b, store.RunCompleted)

		logs := &fakeLogs{st: st}
		r := runs.NewRetention(st, nil)
		r.ConsoleLogs = logs
		reg := prometheus.NewRegistry()
		reg.MustRegister(r.Collectors()...)
		got, err := r.Purge(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n := deletedMetric(t, reg); n["runs"] != 2 || n["console_logs"] != 5 || n["audit_events"] != 0 {
			t.Errorf("sluice_retention_deleted_total %v", n)
		}
		// A: the logs of aOld, aRunning, aQueued and aMid; C: cOld's.
		if got.Runs != 2 || got.ConsoleLogs != 5 {
			t.Fatalf("purged %d runs and %d console logs, want 2 and 5", got.Runs, got.ConsoleLogs)
		}
		for _, rn := range []*store.Run{aRunning, aQueued, aMid, aNew, bNew, cOld} {
			if !w.hasRun(t, rn) || w.failures(t, rn) != 1 {
				t.Errorf("run %s (%s) or its failure was deleted", rn.ID, rn.Status)
			}
		}
		for _, rn := range []*store.Run{aOld, bOld} {
			if w.hasRun(t, rn) || w.failures(t, rn) != 0 {
				t.Errorf("run %s past retention or its failures kept", rn.ID)
			}
		}
		for _, l := range []*store.ConsoleLog{aOldLog, aMidLog, cOldLog, bOldLog} {
			if w.hasLog(t, l) {
				t.Errorf("console log of run %s kept", l.RunID)
			}
		}
		// The console logs of running and queued runs go by age too.
		if w.hasLog(t, aRunningLog) || w.hasLog(t, aQueuedLog) {
			t.Error("an old console log of a running or queued run was kept")
		}
		for _, l := range []*store.ConsoleLog{aNewLog, bNewLog} {
			if !w.hasLog(t, l) {
				t.Errorf("new console log of run %s deleted", l.RunID)
			}
		}
		runIDs, logIDs := logs.took()
		slices.Sort(runIDs)
		wantRuns := []string{aOld.ID, bOld.ID}
		slices.Sort(wantRuns)
		if !slices.Equal(runIDs, wantRuns) {
			t.Errorf("console logs deleted for runs %v, want %v", runIDs, wantRuns)
		}
		// bOld's log is within B's console-log retention: only the run's
		// deletion took it, through the deleter.
		if !slices.Contains(logIDs, bOldLog.ID) || !slices.Contains(logIDs, aOldLog.ID) || !slices.Contains(logIDs, cOldLog.ID) {
			t.Errorf("console logs deleted %v", logIDs)
		}

		ev := w.purgeEvents(t, a.p.ID)
		if len(ev) != 1 || ev[0]["runs"] != float64(1) || ev[0]["console_logs"] != float64(4) {
			t.Errorf("A's purge events %v, want one of 1 run and 4 console logs", ev)
		}
		if ev := w.purgeEvents(t, b.p.ID); len(ev) != 1 || ev[0]["runs"] != float64(1) || ev[0]["console_logs"] != float64(0) {
			t.Errorf("B's purge events %v", ev)
		}
		if ev := w.purgeEvents(t, c.p.ID); len(ev) != 1 || ev[0]["runs"] != float64(0) || ev[0]["console_logs"] != float64(1) {
			t.Errorf("C's purge events %v", ev)
		}

		again, err := r.Purge(ctx)
		if err != nil || again.Runs+again.ConsoleLogs+again.AuditEvents != 0 {
			t.Fatalf("second pass purged %+v, %v; want nothing", again, err)
		}
		if ev := w.purgeEvents(t, a.p.ID); len(ev) != 1 {
			t.Errorf("a pass that deleted nothing left an event: %v", ev)
		}
		if rep, err := audit.Verify(ctx, st.Reader()); err != nil || !rep.Intact {
			t.Fatalf("audit chain after the passes: %+v, %v", rep, err)
		}
	})
}

// deletedMetric reads sluice_retention_deleted_total by kind.
func deletedMetric(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "sluice_retention_deleted_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" {
					out[l.GetValue()] = m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

// TestRetentionConsoleLogBlobFails: a console log whose blob cannot be
// deleted keeps its row and is not counted; the next pass deletes it.
func TestRetentionConsoleLogBlobFails(t *testing.T) {
	eachRetention(t, func(t *testing.T, st *store.Store, clk *clock) {
		ctx := context.Background()
		w := newRetWorld(t, st)
		a := w.project(t, "A", "default", `{}`)
		_, l1 := w.run(t, a, store.RunCompleted)
		_, l2 := w.run(t, a, store.RunCompleted)
		clk.advance(8 * day)
		logs := &fakeLogs{st: st, fail: map[string]bool{l2.ID: true}}
		r := runs.NewRetention(st, nil)
		r.ConsoleLogs = logs
		got, err := r.Purge(ctx)
		if err == nil || got.ConsoleLogs != 1 || w.hasLog(t, l1) || !w.hasLog(t, l2) {
			t.Fatalf("pass with a failing blob: %+v, %v; l1 kept %v, l2 kept %v", got, err, w.hasLog(t, l1), w.hasLog(t, l2))
		}
		logs.fail = nil
		if got, err := r.Purge(ctx); err != nil || got.ConsoleLogs != 1 || w.hasLog(t, l2) {
			t.Fatalf("next pass: %+v, %v", got, err)
		}
	})
}

// TestRetentionCutsTheAuditLogAtItsStart: the activity log is one hash
// chain, so retention deletes only its start, up to the first event still
// within its project's audit retention; the chain still verifies, the
// first event kept follows the anchor, and the newest event always stays.
func TestRetentionCutsTheAuditLogAtItsStart(t *testing.T) {
	eachRetention(t, func(t *testing.T, st *store.Store, clk *clock) {
		ctx := context.Background()
		w := newRetWorld(t, st)
		a := w.project(t, "A", "default", `{}`) // 365 audit days
		b := w.project(t, "B", "free", `{}`)    // 90 audit days
		w.event(t, b.p.ID, "test.b1")
		w.event(t, "", "test.instance") // no project: the default plan's 365 days
		w.event(t, b.p.ID, "test.b2")
		a1 := w.event(t, a.p.ID, "test.a1")
		w.event(t, b.p.ID, "test.b3") // past retention, behind a1: waits
		clk.advance(100 * day)
		b4 := w.event(t, b.p.ID, "test.b4")

		r := runs.NewRetention(st, nil)
		got, err := r.Purge(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// b1 goes; the instance event is within 365 days and stops the cut.
		if got.AuditEvents != 1 || got.Projects[b.p.ID] == nil || got.Projects[b.p.ID].AuditEvents != 1 {
			t.Fatalf("first pass: %+v", got)
		}
		checkChain := func(what string) {
			t.Helper()
			rep, err := audit.Verify(ctx, st.Reader())
			if err != nil || !rep.Intact {
				t.Fatalf("%s: chain %+v, %v", what, rep, err)
			}
			anchor, err := st.Reader().GetAuditAnchor(ctx)
			if err != nil {
				t.Fatal(err)
			}
			first, err := st.Reader().OldestAuditEvents(ctx, 1)
			if err != nil || len(first) != 1 || first[0].PrevHash != anchor.ThroughHash {
				t.Fatalf("%s: the first event kept does not follow the anchor %+v: %+v, %v", what, anchor, first, err)
			}
		}
		checkChain("after the first cut")
		if ev := w.purgeEvents(t, b.p.ID); len(ev) != 1 || ev[0]["audit_events"] != float64(1) {
			t.Fatalf("B's purge events %v", ev)
		}
		if ev := w.purgeEvents(t, ""); len(ev) != 1 || ev[0]["audit_events"] != float64(1) || ev[0]["through_hash"] == "" {
			t.Fatalf("the instance's purge events %v", ev)
		}

		// A year on, everything but what is within its retention goes:
		// the cut passes a1 and b3, b4 and the first pass's events.
		clk.advance(300 * day)
		w.event(t, a.p.ID, "test.a2")
		r.Batch = 2 // the cut in several steps
		got, err = r.Purge(ctx)
		if err != nil {
			t.Fatal(err)
		}
		left, err := st.Reader().OldestAuditEvents(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range left {
			if e.Seq <= b4.Seq || e.Seq == a1.Seq {
				t.Errorf("event %d (%s) kept past its retention", e.Seq, e.Action)
			}
		}
		if got.AuditEvents < 6 {
			t.Errorf("second pass deleted %d events, want at least 6", got.AuditEvents)
		}
		checkChain("after the second cut")
		again, err := r.Purge(ctx)
		if err != nil || again.AuditEvents != 0 {
			t.Fatalf("third pass: %+v, %v; want nothing", again, err)
		}

		// A log of events all past retention keeps its newest event.
		clk.advance(800 * day)
		if _, err := r.Purge(ctx); err != nil {
			t.Fatal(err)
		}
		if left, err := st.Reader().OldestAuditEvents(ctx, 100); err != nil || len(left) == 0 {
			t.Fatalf("the whole log went: %v", err)
		}
		checkChain("after everything expired")
	})
}

// TestDeleteBefore: the runs of a project created before a date go in
// batches, with their failures and console logs (through the deleter);
// running and queued runs and newer runs stay; each batch is an audit
// event; a standard member is refused and nothing changes.
func TestDeleteBefore(t *testing.T) {
	eachRetention(t, func(t *testing.T, st *store.Store, clk *clock) {
		ctx := context.Background()
		w := newRetWorld(t, st)
		a := w.project(t, "A", "default", `{}`)
		var old []*store.Run
		for range 3 {
			rn, _ := w.run(t, a, store.RunCompleted)
			old = append(old, rn)
		}
		running, _ := w.run(t, a, store.RunRunning)
		clk.advance(day)
		cut := st.Now()
		clk.advance(day)
		newer, _ := w.run(t, a, store.RunFailed)

		s := runs.NewService(st, t.TempDir(), nil)
		logs := &fakeLogs{st: st}
		s.ConsoleLogs = logs
		std := &store.User{Email: "std@example.com", Name: "S", PasswordHash: "$argon2id$x"}
		if err := st.Writer().CreateUser(ctx, std); err != nil {
			t.Fatal(err)
		}
		if err := st.Writer().CreateGrant(ctx, &store.Grant{ProjectID: a.p.ID, UserID: std.ID, Role: "standard"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DeleteBefore(ctx, &account.Principal{User: std}, &access.Grant{Project: a.p, Role: access.Standard}, cut, account.Client{}); err == nil {
			t.Fatal("a standard member deleted runs")
		}
		if runIDs, _ := logs.took(); len(runIDs) != 0 || !w.hasRun(t, old[0]) {
			t.Fatalf("the refused deletion deleted console logs of %v", runIDs)
		}

		n, err := s.DeleteBefore(ctx, &account.Principal{User: w.user}, &access.Grant{Project: a.p, Role: access.Owner}, cut, account.Client{IP: "127.0.0.1"})
		if err != nil || n != 3 {
			t.Fatalf("deleted %d, %v; want 3", n, err)
		}
		for _, rn := range old {
			if w.hasRun(t, rn) || w.failures(t, rn) != 0 {
				t.Errorf("old run %s kept", rn.ID)
			}
		}
		if !w.hasRun(t, running) || !w.hasRun(t, newer) {
			t.Error("a running or newer run was deleted")
		}
		if runIDs, _ := logs.took(); len(runIDs) != 3 {
			t.Errorf("console logs deleted for %v, want the 3 old runs", runIDs)
		}
		evs, err := st.Reader().ListAuditEvents(ctx, store.AuditFilter{ProjectID: a.p.ID, Action: runs.ActionRunDeleteBefore})
		if err != nil || len(evs) != 1 || evs[0].ActorID != w.user.ID {
			t.Fatalf("delete-before events %+v, %v", evs, err)
		}
		if n, err := s.DeleteBefore(ctx, &account.Principal{User: w.user}, &access.Grant{Project: a.p, Role: access.Owner}, cut, account.Client{}); err != nil || n != 0 {
			t.Fatalf("again: %d, %v", n, err)
		}

		// Deleting one run deletes its console logs through the deleter
		// first, and the run's row takes nothing else along.
		_, newerLog := w.run(t, a, store.RunCompleted)
		if err := s.Delete(ctx, &account.Principal{User: w.user}, &access.Grant{Project: a.p, Role: access.Owner}, newerLog.RunID, account.Client{}); err != nil {
			t.Fatal(err)
		}
		if runIDs, logIDs := logs.took(); !slices.Contains(runIDs, newerLog.RunID) || !slices.Contains(logIDs, newerLog.ID) {
			t.Fatalf("deleting one run deleted the console logs of runs %v (logs %v)", runIDs, logIDs)
		}
		if w.hasRun(t, &store.Run{ID: newerLog.RunID, ProjectID: a.p.ID}) || !w.hasRun(t, newer) {
			t.Fatal("the wrong run was deleted")
		}
	})
}
