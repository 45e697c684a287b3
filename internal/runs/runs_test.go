package runs_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/flow"
	"github.com/sluice-dev/sluice/internal/runs"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

type world struct {
	st   *store.Store
	dir  string
	s    *runs.Service
	pipe *store.Pipe
	user *store.User
}

func newWorld(t *testing.T, st *store.Store) *world {
	t.Helper()
	ctx := context.Background()
	w := st.Writer()
	u := &store.User{Email: "owner@example.com", Name: "N", PasswordHash: "$argon2id$x"}
	if err := w.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	p := &store.Project{Name: "Shop", OwnerID: u.ID, PlanID: "default", Settings: `{"time_zone":"UTC"}`}
	if err := w.CreateProject(ctx, p); err != nil {
		t.Fatal(err)
	}
	pipe := &store.Pipe{ProjectID: p.ID, Name: "files", ConsoleLog: `{"enabled":false}`}
	if err := w.CreatePipe(ctx, pipe); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	return &world{st: st, dir: dir, s: runs.NewService(st, dir, nil), pipe: pipe, user: u}
}

// flow stores a flow from a YAML document, canonicalised as the API does.
func (w *world) flow(t *testing.T, name, doc string) *store.Flow {
	t.Helper()
	c, err := flow.Load([]byte(doc))
	if err != nil {
		t.Fatalf("flow %s: %v", name, err)
	}
	def, err := flow.Canonical(c.Flow)
	if err != nil {
		t.Fatal(err)
	}
	f := &store.Flow{PipeID: w.pipe.ID, ProjectID: w.pipe.ProjectID, Name: name, Definition: string(def), CreatedBy: w.user.ID}
	if err := w.st.InTx(context.Background(), func(q *store.Q) error { return q.CreateFlow(context.Background(), f) }); err != nil {
		t.Fatal(err)
	}
	return f
}

func (w *world) file(t *testing.T, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(w.dir, name), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// run creates a queued run of f and executes it as the worker would.
func (w *world) run(t *testing.T, f *store.Flow) *store.Run {
	t.Helper()
	ctx := context.Background()
	r := &store.Run{ProjectID: f.ProjectID, FlowID: f.ID, PipeID: f.PipeID, Trigger: store.TriggerManual, TriggeredBy: w.user.ID}
	if err := w.st.Writer().CreateRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := w.s.Execute(ctx, r.ID); err != nil {
		t.Fatalf("execute: %v", err)
	}
	got, err := w.st.Reader().RunByID(ctx, f.ProjectID, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

const doc = `name: %s
read: {file: {path: in.ndjson, format: ndjson}}
entity_id: .id
steps:
  - log: '{id}'
  - map: '{id, total: (.total + 1)}'
write: {file: {path: out.ndjson, format: ndjson}}
`

func TestExecute(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := newWorld(t, st)
		f := w.flow(t, "orders", fmt.Sprintf(doc, "orders"))

		w.file(t, "in.ndjson", `{"id":1,"total":1}
{"id":"b","total":"x"}
{"total":3}
{"id":4,"total":4}
`)
		r := w.run(t, f)
		if r.Status != store.RunPartiallyFailed || r.Read != 4 || r.Succeeded != 2 || r.Failed != 2 || r.StartedAt == nil || r.FinishedAt == nil {
			t.Fatalf("run %+v", r)
		}
		fs, err := st.Reader().ListRunFailures(ctx, r.ID, 0, 100)
		if err != nil || len(fs) != 2 {
			t.Fatalf("failures %v, %v", fs, err)
		}
		if fs[0].EntityID != "b" || fs[0].Stage != "steps[1].map" || fs[1].EntityID != "" || fs[1].Stage != "entity_id" {
			t.Errorf("failures %+v %+v", fs[0], fs[1])
		}
		var logs int
		if err := st.WriteDB().QueryRow(`SELECT COUNT(*) FROM run_logs WHERE run_id = $1`, r.ID).Scan(&logs); err != nil || logs != 3 {
			t.Errorf("log rows %d (%v), want 3", logs, err)
		}
		// Running the job again leaves a finished run as it is.
		if err := w.s.Execute(ctx, r.ID); err != nil {
			t.Fatal(err)
		}

		w.file(t, "in.ndjson", `{"id":1,"total":"x"}
`)
		if r := w.run(t, f); r.Status != store.RunFailed || r.Failed != 1 || !strings.Contains(r.Error, "failed") {
			t.Errorf("all records failed: %+v", r)
		}

		// A missing input file fails the run with the reason.
		os.Remove(filepath.Join(w.dir, "in.ndjson"))
		if r := w.run(t, f); r.Status != store.RunFailed || r.Error == "" {
			t.Errorf("missing input: %+v", r)
		}
	})
}

func TestExecuteCancel(t *testing.T) {
	st := storetest.Open(t, store.SQLite, store.Options{})
	w := newWorld(t, st)
	f := w.flow(t, "big", fmt.Sprintf(doc, "big"))
	var b strings.Builder
	for i := range 300000 {
		fmt.Fprintf(&b, "{\"id\":%d,\"total\":%d}\n", i, i)
	}
	w.file(t, "in.ndjson", b.String())
	ctx := context.Background()
	r := &store.Run{ProjectID: f.ProjectID, FlowID: f.ID, PipeID: f.PipeID, Trigger: store.TriggerManual}
	if err := st.Writer().CreateRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.s.Execute(ctx, r.ID) }()
	cancelled := false
	for !cancelled {
		select {
		case err := <-done:
			t.Skipf("the run finished (%v) before it could be cancelled", err)
		default:
		}
		cancelled = w.s.Cancel(r.ID)
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("a cancelled run did not stop")
	}
	got, err := st.Reader().RunByID(ctx, "", r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.RunCancelled {
		t.Errorf("status %q, want cancelled (%+v)", got.Status, got)
	}
	if _, err := os.Stat(filepath.Join(w.dir, "out.ndjson")); err == nil {
		t.Errorf("a cancelled replace run left its output")
	}
}
