package runs_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/queue"
	"github.com/sluice-dev/sluice/internal/runs"
	"github.com/sluice-dev/sluice/internal/secrets"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

const syncDoc = `name: %s
trigger: {dynamic: {mode: sync, timeout: 5s}}
entity_id: .id
steps:
  - fail: 'if .total < 0 then "total must not be negative" else null end'
  - map: '{id, total: (.total + 1)}'
  - write: {file: {path: out.ndjson, format: ndjson}}
  - respond: '{accepted: .id, total}'
`

// callable stores an enabled dynamic flow.
func (w *world) callable(t *testing.T, name, doc string) *store.Flow {
	t.Helper()
	f := w.flow(t, name, strings.ReplaceAll(doc, "%s", name))
	f.Enabled = true
	if err := w.st.Writer().SetFlowEnabled(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestCallSync(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := newWorld(t, st)
		f := w.callable(t, "orders", syncDoc)
		res, err := w.s.CallSync(ctx, f.ProjectID, f.ID, "erp", []any{map[string]any{"id": "A1", "total": 1}})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Responses) != 1 || js(res.Responses[0].Value) != `{"accepted":"A1","total":2}` {
			t.Fatalf("answer %+v", res.Responses)
		}
		r := w.load(t, res.RunID)
		if r.Trigger != store.TriggerDynamic || r.TriggeredBy != "erp" || r.Status != store.RunCompleted || r.Read != 1 || r.Succeeded != 1 {
			t.Errorf("run %+v", r)
		}

		// An array: one record rejected by the flow, kept with its entity ID.
		res, err = w.s.CallSync(ctx, f.ProjectID, f.ID, "erp", []any{
			map[string]any{"id": "A2", "total": 5}, map[string]any{"id": "A3", "total": -1}})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Rejected() || res.DestinationFailed() || res.Succeeded != 1 || res.Failed != 1 {
			t.Errorf("result %+v", res)
		}
		r = w.load(t, res.RunID)
		if r.Status != store.RunPartiallyFailed || r.Read != 2 || r.Failed != 1 {
			t.Errorf("run %+v", r)
		}
		fs, err := w.s.Failures(ctx, f.ProjectID, res.RunID, 0, 10)
		if err != nil || len(fs) != 1 || fs[0].EntityID != "A3" || fs[0].Stage != "steps[0].fail" {
			t.Errorf("failures %+v %v", fs, err)
		}

		// Wrong mode, unknown and disabled flows change nothing.
		if _, err := w.s.CallAsync(ctx, f.ProjectID, f.ID, "erp", nil); err == nil {
			t.Error("CallAsync took a sync flow")
		}
		if _, err := w.s.CallSync(ctx, f.ProjectID, store.NewID(), "erp", nil); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown flow: %v", err)
		}
		batch := w.flow(t, "batch", strings.ReplaceAll(doc, "%s", "batch"))
		if _, err := w.s.CallSync(ctx, f.ProjectID, batch.ID, "erp", nil); !errors.Is(err, runs.ErrNotCallable) {
			t.Errorf("batch flow: %v", err)
		}
		f.Enabled = false
		if err := w.st.Writer().SetFlowEnabled(ctx, f); err != nil {
			t.Fatal(err)
		}
		// The flow row read by the calls above is trusted for a while;
		// the pipeline service tells the runs service of a change.
		w.s.ForgetFlows(f.ProjectID)
		if _, err := w.s.CallSync(ctx, f.ProjectID, f.ID, "erp", nil); !errors.Is(err, runs.ErrFlowDisabled) {
			t.Errorf("disabled flow: %v", err)
		}
		all, _ := w.s.List(ctx, store.RunFilter{ProjectID: f.ProjectID})
		if len(all) != 2 {
			t.Errorf("%d runs, want the 2 calls that ran", len(all))
		}
	})
}

// gate holds sync runs in the dynamic hook until released.
type gate struct {
	mu      sync.Mutex
	entered chan string
	release chan struct{}
	panic   bool
}

func newGate(s *runs.Service) *gate {
	g := &gate{entered: make(chan string, 16), release: make(chan struct{})}
	runs.SetDynamicHook(s, func(ctx context.Context, runID string) {
		g.mu.Lock()
		p := g.panic
		g.mu.Unlock()
		if p {
			panic("boom: a bug in a step")
		}
		g.entered <- runID
		select {
		case <-g.release:
		case <-ctx.Done():
		}
	})
	return g
}

func TestCallSyncTimeout(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := newWorld(t, st)
		f := w.callable(t, "slow", strings.Replace(syncDoc, "timeout: 5s", "timeout: 20ms", 1))
		g := newGate(w.s)
		_, err := w.s.CallSync(ctx, f.ProjectID, f.ID, "erp", []any{map[string]any{"id": "S1", "total": 1}})
		var te *runs.TimeoutError
		if !errors.As(err, &te) || te.RunID == "" {
			t.Fatalf("got %v, want a TimeoutError with the run ID", err)
		}
		<-g.entered
		if r := w.load(t, te.RunID); r.Status != store.RunRunning || r.HeartbeatAt == nil {
			t.Errorf("run after the timeout %+v", r)
		}
		close(g.release)
		waitFinished(t, w, te.RunID)
		if r := w.load(t, te.RunID); r.Status != store.RunCompleted || r.Succeeded != 1 {
			t.Errorf("the run did not complete after the caller's timeout: %+v", r)
		}
	})
}

func waitFinished(t *testing.T, w *world, id string) {
	t.Helper()
	for range 1000 {
		if w.load(t, id).Finished() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("run %s never finished", id)
}

func TestCallSyncPanic(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := newWorld(t, st)
		f := w.callable(t, "orders", syncDoc)
		g := newGate(w.s)
		g.panic = true
		_, err := w.s.CallSync(ctx, f.ProjectID, f.ID, "erp", []any{map[string]any{"id": "P1", "total": 1}})
		var pe *runs.CallPanicError
		if !errors.As(err, &pe) {
			t.Fatalf("got %v, want a CallPanicError", err)
		}
		if r := w.load(t, pe.RunID); r.Status != store.RunFailed || strings.Contains(r.Error, "boom") {
			t.Errorf("panicked run %+v", r)
		}
		// The next call is unaffected, and the slot was given back.
		g.mu.Lock()
		g.panic = false
		g.mu.Unlock()
		close(g.release)
		w.s.SetDynamic(runs.DynamicOptions{Concurrency: 1})
		if _, err := w.s.CallSync(ctx, f.ProjectID, f.ID, "erp", []any{map[string]any{"id": "P2", "total": 1}}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestCallSyncConcurrency: with one slot per project, a call blocked in
// its run makes the next call of the project wait for the slot until its
// timeout, then get a BusyError without a run; a call that finds the slot
// freed in time runs.
func TestCallSyncConcurrency(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := newWorld(t, st)
		w.s.SetDynamic(runs.DynamicOptions{Concurrency: 1})
		f := w.callable(t, "orders", strings.Replace(syncDoc, "timeout: 5s", "timeout: 50ms", 1))
		g := newGate(w.s)
		first := make(chan error, 1)
		go func() {
			_, err := w.s.CallSync(ctx, f.ProjectID, f.ID, "erp", []any{map[string]any{"id": "C1", "total": 1}})
			first <- err
		}()
		id := <-g.entered
		var be *runs.BusyError
		if _, err := w.s.CallSync(ctx, f.ProjectID, f.ID, "erp", []any{map[string]any{"id": "C2", "total": 1}}); !errors.As(err, &be) || be.Limit != 1 {
			t.Fatalf("got %v, want a BusyError", err)
		}
		all, _ := w.s.List(ctx, store.RunFilter{ProjectID: f.ProjectID})
		if len(all) != 1 {
			t.Errorf("%d runs: a refused call made a run", len(all))
		}
		close(g.release)
		<-first
		waitFinished(t, w, id)
		if _, err := w.s.CallSync(ctx, f.ProjectID, f.ID, "erp", []any{map[string]any{"id": "C3", "total": 1}}); err != nil {
			t.Errorf("after the slot was freed: %v", err)
		}
	})
}

func TestCallAsync(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := newWorld(t, st)
		q, err := queue.New(st, queue.Options{Register: w.s.Register})
		if err != nil {
			t.Fatal(err)
		}
		w.s.SetQueue(q)
		mk, err := secrets.ParseMasterKey(base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")))
		if err != nil {
			t.Fatal(err)
		}
		kr, err := secrets.OpenKeyring(ctx, st, mk, secrets.Options{})
		if err != nil {
			t.Fatal(err)
		}
		f := w.callable(t, "later", strings.Replace(syncDoc, "mode: sync, timeout: 5s", "mode: async", 1))
		if _, err := w.s.CallAsync(ctx, f.ProjectID, f.ID, "erp", []any{map[string]any{"id": 1}}); err == nil {
			t.Fatal("an async call was taken with no keyring to seal its body")
		}
		w.s.SetDynamic(runs.DynamicOptions{Sealer: kr})
		const canary = "canary-7f3a9c"
		run, err := w.s.CallAsync(ctx, f.ProjectID, f.ID, "shop", []any{
			map[string]any{"id": canary, "total": 1}, map[string]any{"id": "bad", "total": -1}})
		if err != nil {
			t.Fatal(err)
		}
		if run.Status != store.RunQueued || run.Trigger != store.TriggerDynamic || run.TriggeredBy != "shop" {
			t.Errorf("run %+v", run)
		}
		if n := bodies(t, st, ""); n != 1 {
			t.Fatalf("%d bodies stored, want 1", n)
		}
		if n := bodies(t, st, canary); n != 0 {
			t.Fatal("the body is stored in plaintext")
		}
		if err := w.s.Execute(ctx, run.ID); err != nil {
			t.Fatal(err)
		}
		r := w.load(t, run.ID)
		if r.Status != store.RunPartiallyFailed || r.Read != 2 || r.Succeeded != 1 || r.Failed != 1 {
			t.Errorf("run %+v", r)
		}
		if n := bodies(t, st, ""); n != 0 {
			t.Errorf("%d bodies kept after the run took them", n)
		}
		fs, _ := w.s.Failures(ctx, f.ProjectID, run.ID, 0, 10)
		if len(fs) != 1 || fs[0].EntityID != "bad" {
			t.Errorf("failures %+v", fs)
		}
		// A second attempt finds no body: it fails, saying why.
		again := &store.Run{ProjectID: f.ProjectID, FlowID: f.ID, PipeID: f.PipeID, Trigger: store.TriggerDynamic, TriggeredBy: "shop"}
		if err := st.Writer().CreateRun(ctx, again); err != nil {
			t.Fatal(err)
		}
		if err := w.s.Execute(ctx, again.ID); err != nil {
			t.Fatal(err)
		}
		if r := w.load(t, again.ID); r.Status != store.RunFailed || !strings.Contains(r.Error, "body is gone") {
			t.Errorf("run with no body %+v", r)
		}
	})
}

// bodies counts the stored call bodies, those containing s when s is set.
func bodies(t *testing.T, st *store.Store, s string) int {
	t.Helper()
	var n int
	q := `SELECT COUNT(*) FROM dynamic_bodies`
	args := []any{}
	if s != "" {
		q += ` WHERE sealed LIKE $1`
		args = append(args, "%"+s+"%")
	}
	if err := st.WriteDB().QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// TestCallSyncFlowRowTTL: a change made on another node (straight in the
// store, nobody told) takes effect once the cached row is older than
// FlowRowTTL.
func TestCallSyncFlowRowTTL(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := newWorld(t, st)
		w.s.FlowRowTTL = 50 * time.Millisecond
		f := w.callable(t, "orders", syncDoc)
		rec := []any{map[string]any{"id": "T1", "total": 1}}
		if _, err := w.s.CallSync(ctx, f.ProjectID, f.ID, "erp", rec); err != nil {
			t.Fatal(err)
		}
		f.Enabled = false
		if err := w.st.Writer().SetFlowEnabled(ctx, f); err != nil {
			t.Fatal(err)
		}
		for range 500 {
			_, err := w.s.CallSync(ctx, f.ProjectID, f.ID, "erp", rec)
			if errors.Is(err, runs.ErrFlowDisabled) {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatal("the disabled flow still took calls long after FlowRowTTL")
	})
}
