package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/store"
)

func newPipe(t *testing.T, q *store.Q, projectID, name string) *store.Pipe {
	t.Helper()
	p := &store.Pipe{ProjectID: projectID, Name: name, ConsoleLog: `{"enabled":false}`}
	if err := q.CreatePipe(context.Background(), p); err != nil {
		t.Fatalf("create pipe %s: %v", name, err)
	}
	return p
}

// newFlow creates a flow in a transaction, as the service does.
func newFlow(t *testing.T, st *store.Store, p *store.Pipe, name, def, by string) *store.Flow {
	t.Helper()
	f := &store.Flow{PipeID: p.ID, ProjectID: p.ProjectID, Name: name, Definition: def, CreatedBy: by}
	if err := st.InTx(context.Background(), func(q *store.Q) error { return q.CreateFlow(context.Background(), f) }); err != nil {
		t.Fatalf("create flow %s: %v", name, err)
	}
	return f
}

// saveFlow saves def as the next version of f, based on f.Version.
func saveFlow(st *store.Store, f *store.Flow, def, by string, restoredFrom int) error {
	f.Definition = def
	return st.InTx(context.Background(), func(q *store.Q) error {
		return q.SaveFlowDefinition(context.Background(), f, by, restoredFrom)
	})
}

// TestPipesAreUniqueAndScoped: a pipe's name is unique in its project
// only, and a pipe is found only under its own project.
func TestPipesAreUniqueAndScoped(t *testing.T) {
	eachClocked(t, func(t *testing.T, st *store.Store, clk *testClock) {
		ctx := context.Background()
		w := st.Writer()
		owner := newUser(t, w, "owner@example.com")
		a, b := newProject(t, w, "A", owner.ID), newProject(t, w, "B", owner.ID)
		pa := newPipe(t, w, a.ID, "Shop ↔ ERP")
		newPipe(t, w, b.ID, "Shop ↔ ERP") // the same name in another project
		if err := w.CreatePipe(ctx, &store.Pipe{ProjectID: a.ID, Name: "Shop ↔ ERP", ConsoleLog: "{}"}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("a second pipe of the same name: %v, want ErrConflict", err)
		}
		got, err := st.Reader().PipeByID(ctx, a.ID, pa.ID)
		if err != nil || *got != *pa {
			t.Fatalf("PipeByID = %+v, %v; want %+v", got, err, pa)
		}
		if _, err := st.Reader().PipeByID(ctx, b.ID, pa.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("A's pipe under B: %v, want ErrNotFound", err)
		}
		newPipe(t, w, a.ID, "Another")
		list, err := st.Reader().ListPipes(ctx, a.ID)
		if err != nil || len(list) != 2 || list[0].Name != "Another" || list[1].ID != pa.ID {
			t.Fatalf("ListPipes(A) = %v, %v", list, err)
		}

		clk.Advance(time.Minute)
		next := *pa
		next.Name, next.Description, next.ConsoleLog = "Renamed", "what it does", `{"enabled":true}`
		if err := w.UpdatePipe(ctx, &next); err != nil {
			t.Fatal(err)
		}
		got, _ = st.Reader().PipeByID(ctx, a.ID, pa.ID)
		if got.Name != "Renamed" || got.Description != "what it does" || got.ConsoleLog != `{"enabled":true}` ||
			!got.UpdatedAt.Equal(clk.Now()) || !got.CreatedAt.Equal(pa.CreatedAt) {
			t.Fatalf("after update: %+v", got)
		}
		next.Name = "Another"
		if err := w.UpdatePipe(ctx, &next); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("rename onto a taken name: %v, want ErrConflict", err)
		}
		wrong := next
		wrong.ProjectID, wrong.Name = b.ID, "Moved"
		if err := w.UpdatePipe(ctx, &wrong); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("update of A's pipe under B: %v, want ErrNotFound", err)
		}
		if err := w.DeletePipe(ctx, b.ID, pa.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delete of A's pipe under B: %v, want ErrNotFound", err)
		}
		if err := w.DeletePipe(ctx, a.ID, pa.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Reader().PipeByID(ctx, a.ID, pa.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a deleted pipe: %v", err)
		}
	})
}

// TestFlowVersionsKeepEverySave: creating a flow records version 1;
// every save adds the next version and keeps the ones before; a save
// based on an old version changes nothing; versions are found only under
// their own project and pipe.
func TestFlowVersionsKeepEverySave(t *testing.T) {
	eachClocked(t, func(t *testing.T, st *store.Store, clk *testClock) {
		ctx := context.Background()
		w := st.Writer()
		ann := newUser(t, w, "ann@example.com")
		bob := newUser(t, w, "bob@example.com")
		a, b := newProject(t, w, "A", ann.ID), newProject(t, w, "B", ann.ID)
		pipe, other := newPipe(t, w, a.ID, "P"), newPipe(t, w, a.ID, "Q")
		pipeB := newPipe(t, w, b.ID, "P")

		if err := w.CreateFlow(ctx, &store.Flow{PipeID: pipe.ID, ProjectID: a.ID, Name: "x", Definition: "{}", CreatedBy: ann.ID}); err == nil {
			t.Fatalf("CreateFlow outside a transaction succeeded")
		}
		created := clk.Now()
		f := newFlow(t, st, pipe, "orders", `{"name":"orders"}`, ann.ID)
		if f.Version != 1 || f.Enabled || !f.CreatedAt.Equal(created) {
			t.Fatalf("created flow %+v", f)
		}
		newFlow(t, st, other, "orders", `{"name":"orders"}`, ann.ID) // the same name in another pipe
		err := st.InTx(ctx, func(q *store.Q) error {
			return q.CreateFlow(ctx, &store.Flow{PipeID: pipe.ID, ProjectID: a.ID, Name: "orders", Definition: "{}", CreatedBy: ann.ID})
		})
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("a second flow of the same name in the pipe: %v, want ErrConflict", err)
		}
		// A flow must belong to a pipe of its own project.
		err = st.InTx(ctx, func(q *store.Q) error {
			return q.CreateFlow(ctx, &store.Flow{PipeID: pipeB.ID, ProjectID: a.ID, Name: "stray", Definition: "{}", CreatedBy: ann.ID})
		})
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a flow in B's pipe filed under A: %v, want ErrNotFound", err)
		}
		_, err = st.WriteDB().ExecContext(ctx, `INSERT INTO flows (id, pipe_id, project_id, name, enabled, definition, version, created_at, updated_at, created_by)
			VALUES ($1, $2, $3, 'stray', false, '{}', 1, $4, $4, '')`, store.NewID(), pipeB.ID, a.ID, clk.Now())
		if err == nil {
			t.Fatalf("the schema accepted a flow whose project is not its pipe's")
		}

		clk.Advance(time.Minute)
		if err := saveFlow(st, f, `{"name":"orders","v":2}`, bob.ID, 0); err != nil {
			t.Fatal(err)
		}
		if f.Version != 2 || !f.UpdatedAt.Equal(clk.Now()) {
			t.Fatalf("after a save: %+v", f)
		}
		clk.Advance(time.Minute)
		f.Name = "orders v3"
		if err := saveFlow(st, f, `{"name":"orders v3"}`, ann.ID, 0); err != nil {
			t.Fatal(err)
		}
		stale := *f
		stale.Version = 2
		if err := saveFlow(st, &stale, `{"name":"lost"}`, bob.ID, 0); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("a save based on version 2 after version 3: %v, want ErrConflict", err)
		}
		if err := saveFlow(st, &store.Flow{ID: f.ID, PipeID: other.ID, ProjectID: a.ID, Name: "x", Version: 3}, "{}", bob.ID, 0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a save under another pipe: %v, want ErrNotFound", err)
		}
		clk.Advance(time.Minute)
		f.Name = "orders"
		if err := saveFlow(st, f, `{"name":"orders"}`, bob.ID, 1); err != nil {
			t.Fatal(err)
		}

		got, err := st.Reader().FlowByID(ctx, a.ID, pipe.ID, f.ID)
		if err != nil || got.Version != 4 || got.Definition != `{"name":"orders"}` || got.Name != "orders" || got.CreatedBy != ann.ID {
			t.Fatalf("FlowByID = %+v, %v", got, err)
		}
		vs, err := st.Reader().ListFlowVersions(ctx, a.ID, pipe.ID, f.ID)
		if err != nil || len(vs) != 4 {
			t.Fatalf("ListFlowVersions = %v, %v; want 4 versions", vs, err)
		}
		want := []struct {
			version, restoredFrom int
			def, by, email        string
		}{
			{4, 1, `{"name":"orders"}`, bob.ID, bob.Email},
			{3, 0, `{"name":"orders v3"}`, ann.ID, ann.Email},
			{2, 0, `{"name":"orders","v":2}`, bob.ID, bob.Email},
			{1, 0, `{"name":"orders"}`, ann.ID, ann.Email},
		}
		for i, w := range want {
			v := vs[i]
			if v.Version != w.version || v.RestoredFrom != w.restoredFrom || v.Definition != w.def || v.SavedBy != w.by || v.SavedByEmail != w.email || v.FlowID != f.ID {
				t.Errorf("version %d = %+v, want %+v", i, v, w)
			}
		}
		if !vs[3].SavedAt.Equal(created) || !vs[0].SavedAt.Equal(clk.Now()) {
			t.Errorf("saved_at: v1 %v (want %v), v4 %v (want %v)", vs[3].SavedAt, created, vs[0].SavedAt, clk.Now())
		}
		v2, err := st.Reader().FlowVersionByNumber(ctx, a.ID, pipe.ID, f.ID, 2)
		if err != nil || v2.Definition != `{"name":"orders","v":2}` {
			t.Fatalf("version 2 = %+v, %v", v2, err)
		}
		for name, lookup := range map[string]func() error{
			"version 9":          func() error { _, err := st.Reader().FlowVersionByNumber(ctx, a.ID, pipe.ID, f.ID, 9); return err },
			"under project B":    func() error { _, err := st.Reader().FlowVersionByNumber(ctx, b.ID, pipe.ID, f.ID, 1); return err },
			"under another pipe": func() error { _, err := st.Reader().FlowVersionByNumber(ctx, a.ID, other.ID, f.ID, 1); return err },
			"flow under B":       func() error { _, err := st.Reader().FlowByID(ctx, b.ID, pipe.ID, f.ID); return err },
			"flow under Q":       func() error { _, err := st.Reader().FlowByID(ctx, a.ID, other.ID, f.ID); return err },
		} {
			if err := lookup(); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: %v, want ErrNotFound", name, err)
			}
		}
		if vs, err := st.Reader().ListFlowVersions(ctx, b.ID, pipe.ID, f.ID); err != nil || len(vs) != 0 {
			t.Errorf("versions listed under project B: %v, %v", vs, err)
		}
	})
}

// TestFlowEnableAndDelete: enabling changes no version; deleting a flow,
// its pipe or its project removes the flow and every version.
func TestFlowEnableAndDelete(t *testing.T) {
	eachClocked(t, func(t *testing.T, st *store.Store, clk *testClock) {
		ctx := context.Background()
		w := st.Writer()
		ann := newUser(t, w, "ann@example.com")
		a := newProject(t, w, "A", ann.ID)
		pipe := newPipe(t, w, a.ID, "P")
		f := newFlow(t, st, pipe, "one", `{"name":"one"}`, ann.ID)
		g := newFlow(t, st, pipe, "two", `{"name":"two"}`, ann.ID)
		if err := saveFlow(st, g, `{"name":"two","v":2}`, ann.ID, 0); err != nil {
			t.Fatal(err)
		}

		clk.Advance(time.Minute)
		f.Enabled = true
		if err := w.SetFlowEnabled(ctx, f); err != nil {
			t.Fatal(err)
		}
		got, _ := st.Reader().FlowByID(ctx, a.ID, pipe.ID, f.ID)
		if !got.Enabled || got.Version != 1 || !got.UpdatedAt.Equal(clk.Now()) {
			t.Fatalf("after enabling: %+v", got)
		}
		if err := w.SetFlowEnabled(ctx, &store.Flow{ID: f.ID, PipeID: pipe.ID, ProjectID: "other"}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("enable under another project: %v", err)
		}
		list, err := st.Reader().ListFlows(ctx, a.ID, pipe.ID)
		if err != nil || len(list) != 2 || list[0].ID != f.ID || list[1].ID != g.ID {
			t.Fatalf("ListFlows = %v, %v", list, err)
		}
		if n, err := st.Reader().CountFlows(ctx, a.ID, pipe.ID); err != nil || n != 2 {
			t.Fatalf("CountFlows = %d, %v", n, err)
		}

		if err := w.DeleteFlow(ctx, a.ID, pipe.ID, f.ID); err != nil {
			t.Fatal(err)
		}
		if err := w.DeleteFlow(ctx, a.ID, pipe.ID, f.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
		if n := countRows(t, st, `SELECT COUNT(*) FROM flow_versions WHERE flow_id = $1`, f.ID); n != 0 {
			t.Fatalf("%d versions outlive their flow", n)
		}
		if n := countRows(t, st, `SELECT COUNT(*) FROM flow_versions WHERE flow_id = $1`, g.ID); n != 2 {
			t.Fatalf("the other flow has %d versions, want 2", n)
		}
		if err := w.DeletePipe(ctx, a.ID, pipe.ID); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, st, `SELECT COUNT(*) FROM flows`) + countRows(t, st, `SELECT COUNT(*) FROM flow_versions`); n != 0 {
			t.Fatalf("%d flow rows outlive their pipe", n)
		}

		pipe = newPipe(t, w, a.ID, "P")
		newFlow(t, st, pipe, "three", `{"name":"three"}`, ann.ID)
		if err := w.DeleteProject(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, st, `SELECT COUNT(*) FROM pipes`) + countRows(t, st, `SELECT COUNT(*) FROM flows`) +
			countRows(t, st, `SELECT COUNT(*) FROM flow_versions`); n != 0 {
			t.Fatalf("%d pipe and flow rows outlive their project", n)
		}
	})
}
