package web_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/store"
)

// fileFlow is a file → map → file flow: it reads in/orders.ndjson and
// writes {id, total: total + 1} to out/orders.ndjson.
func fileFlow(name string) map[string]any {
	return flowDef(name, map[string]any{"steps": []any{
		map[string]any{"map": "{id, total: (.total + 1)}"},
		map[string]any{"write": map[string]any{"file": map[string]any{"path": "out/" + name + ".ndjson", "format": "ndjson"}}},
	}})
}

// writeInput writes the flows' input file under the instance's files
// directory.
func writeInput(t *testing.T, inst *apptest.Instance, body string) {
	t.Helper()
	p := filepath.Join(inst.App.Config.FilesDir, "in", "orders.ndjson")
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// waitRun polls a run until it has finished and returns its last answer.
func waitRun(t *testing.T, c *apptest.Client, pid, id string) *apptest.Response {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second) // a hang guard, not a timing assertion
	for {
		r := c.Do(t, "GET", "/api/v1/projects/"+pid+"/runs/"+id, nil)
		wantStatus(t, r, http.StatusOK, "get run")
		switch r.String("status") {
		case "completed", "partially_failed", "failed", "cancelled":
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s did not finish; last answer %s", id, r.Body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func startRun(t *testing.T, c *apptest.Client, pid, pipe, flow string) string {
	t.Helper()
	r := c.Do(t, "POST", flowPath(pid, pipe, "/", flow, "/runs"), nil)
	wantStatus(t, r, http.StatusAccepted, "start run")
	if r.String("status") != "queued" || r.String("trigger") != "manual" || r.String("id") == "" {
		t.Fatalf("start run answered %s", r.Body)
	}
	return r.String("id")
}

func records(r *apptest.Response) map[string]float64 {
	m, _ := r.Get("records").(map[string]any)
	out := map[string]float64{}
	for k, v := range m {
		out[k], _ = v.(float64)
	}
	return out
}

func TestFileRuns(t *testing.T) {
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, ann := startAdmin(t, apptest.Options{Dialect: d})
		bob := addPerson(t, inst, ann, "bob")
		pid := mustProject(t, bob.C, "Shop")
		pipe := mustPipe(t, bob.C, pid, "Shop ↔ files")
		flow := mustFlow(t, bob.C, pid, pipe, fileFlow("orders"))
		writeInput(t, inst, `{"id":1,"total":10}
{"id":2,"total":0}
{"id":3,"total":25}
`)

		// A clean run.
		run1 := startRun(t, bob.C, pid, pipe, flow)
		r := waitRun(t, bob.C, pid, run1)
		if r.String("status") != "completed" {
			t.Fatalf("run: %s", r.Body)
		}
		if got, want := records(r), map[string]float64{"read": 3, "succeeded": 3, "failed": 0, "skipped": 0}; !equalCounts(got, want) {
			t.Errorf("records %v, want %v", got, want)
		}
		if r.String("started_at") == "" || r.String("finished_at") == "" || r.Get("duration_ms") == nil {
			t.Errorf("run times missing: %s", r.Body)
		}
		out, err := os.ReadFile(filepath.Join(inst.App.Config.FilesDir, "out", "orders.ndjson"))
		if err != nil {
			t.Fatal(err)
		}
		if want := "{\"id\":1,\"total\":11}\n{\"id\":2,\"total\":1}\n{\"id\":3,\"total\":26}\n"; string(out) != want {
			t.Errorf("output %q, want %q", out, want)
		}
		r = bob.C.Do(t, "GET", "/api/v1/projects/"+pid+"/runs/"+run1+"/failures", nil)
		wantStatus(t, r, http.StatusOK, "failures of a clean run")
		if fs, _ := r.Get("failures").([]any); len(fs) != 0 {
			t.Errorf("a clean run lists failures: %s", r.Body)
		}

		// One record whose map fails: the run partially fails, naming it.
		writeInput(t, inst, `{"id":1,"total":10}
{"id":2,"total":"abc"}
{"id":3,"total":25}
`)
		run2 := startRun(t, bob.C, pid, pipe, flow)
		r = waitRun(t, bob.C, pid, run2)
		if r.String("status") != "partially_failed" {
			t.Fatalf("run with a bad record: %s", r.Body)
		}
		if got, want := records(r), map[string]float64{"read": 3, "succeeded": 2, "failed": 1, "skipped": 0}; !equalCounts(got, want) {
			t.Errorf("records %v, want %v", got, want)
		}
		r = bob.C.Do(t, "GET", "/api/v1/projects/"+pid+"/runs/"+run2+"/failures", nil)
		wantStatus(t, r, http.StatusOK, "failures")
		fs, _ := r.Get("failures").([]any)
		if len(fs) != 1 {
			t.Fatalf("failures %s, want one", r.Body)
		}
		f := fs[0].(map[string]any)
		if f["entity_id"] != "2" || !strings.HasPrefix(f["stage"].(string), "steps[0]") || f["error"] == "" || f["attempts"] != float64(1) {
			t.Errorf("failure %v", f)
		}

		// A flow reading over HTTP from an API out of reach fails, saying
		// why and nothing of the connection's credentials.
		wantStatus(t, bob.C.Do(t, "POST", "/api/v1/projects/"+pid+"/connections", map[string]any{"name": "erp", "kind": "http",
			"settings": map[string]any{"base_url": "https://erp.example.com"}, "auth": map[string]any{"type": "bearer", "token": "Runs-Token-Secret-1"}}),
			http.StatusCreated, "create connection")
		httpFlow := mustFlow(t, bob.C, pid, pipe, mxFlowDefinition("remote"))
		run3 := startRun(t, bob.C, pid, pipe, httpFlow)
		r = waitRun(t, bob.C, pid, run3)
		if r.String("status") != "failed" || !strings.Contains(r.String("error"), "GET /orders") || strings.Contains(string(r.Body), "Runs-Token-Secret-1") {
			t.Errorf("http run: %s", r.Body)
		}

		// Listing and its filters.
		list := func(query string) []string {
			t.Helper()
			r := bob.C.Do(t, "GET", "/api/v1/projects/"+pid+"/runs"+query, nil)
			wantStatus(t, r, http.StatusOK, "list runs "+query)
			var ids []string
			items, _ := r.Get("runs").([]any)
			for _, it := range items {
				ids = append(ids, it.(map[string]any)["id"].(string))
			}
			return ids
		}
		same := func(got []string, want ...string) bool { return strings.Join(got, ",") == strings.Join(want, ",") }
		if got := list(""); !same(got, run3, run2, run1) {
			t.Errorf("all runs %v", got)
		}
		if got := list("?flow=" + flow); !same(got, run2, run1) {
			t.Errorf("runs of the file flow %v", got)
		}
		if got := list("?status=partially_failed"); !same(got, run2) {
			t.Errorf("partially failed runs %v", got)
		}
		if got := list("?status=completed&trigger=manual"); !same(got, run1) {
			t.Errorf("completed manual runs %v", got)
		}
		if got := list("?trigger=schedule"); len(got) != 0 {
			t.Errorf("scheduled runs %v", got)
		}
		if got := list("?until=2000-01-01T00:00:00Z"); len(got) != 0 {
			t.Errorf("runs before 2000 %v", got)
		}
		if got := list("?since=2000-01-01T00:00:00Z"); len(got) != 3 {
			t.Errorf("runs since 2000 %v", got)
		}
		r = bob.C.Do(t, "GET", "/api/v1/projects/"+pid+"/runs?limit=2", nil)
		wantStatus(t, r, http.StatusOK, "first page")
		next := r.String("next")
		if items, _ := r.Get("runs").([]any); len(items) != 2 || next == "" {
			t.Fatalf("first page %s", r.Body)
		}
		r = bob.C.Do(t, "GET", next, nil)
		wantStatus(t, r, http.StatusOK, "second page")
		if items, _ := r.Get("runs").([]any); len(items) != 1 || items[0].(map[string]any)["id"] != run1 {
			t.Errorf("second page %s", r.Body)
		}
		for _, q := range []string{"?status=done", "?trigger=cron", "?since=yesterday", "?limit=0"} {
			wantStatus(t, bob.C.Do(t, "GET", "/api/v1/projects/"+pid+"/runs"+q, nil), http.StatusBadRequest, "list runs "+q)
		}

		// Deleting a run removes it and its failures.
		wantStatus(t, bob.C.Do(t, "DELETE", "/api/v1/projects/"+pid+"/runs/"+run2, nil), http.StatusNoContent, "delete run")
		wantStatus(t, bob.C.Do(t, "GET", "/api/v1/projects/"+pid+"/runs/"+run2, nil), http.StatusNotFound, "deleted run")
		wantStatus(t, bob.C.Do(t, "GET", "/api/v1/projects/"+pid+"/runs/"+run2+"/failures", nil), http.StatusNotFound, "deleted run's failures")
		var n int
		if err := inst.App.Store.WriteDB().QueryRow(`SELECT COUNT(*) FROM run_failures WHERE run_id = $1`, run2).Scan(&n); err != nil || n != 0 {
			t.Errorf("failures left of a deleted run: %d (%v)", n, err)
		}
		r = bob.C.Do(t, "GET", "/api/v1/projects/"+pid+"/audit?action=run.start", nil)
		wantStatus(t, r, http.StatusOK, "audit")
		if evs, _ := r.Get("events").([]any); len(evs) != 3 {
			t.Errorf("run.start events: %s", r.Body)
		}
		r = bob.C.Do(t, "GET", "/api/v1/projects/"+pid+"/audit?action=run.delete", nil)
		if evs, _ := r.Get("events").([]any); len(evs) != 1 {
			t.Errorf("run.delete events: %s", r.Body)
		}
	})
}

func equalCounts(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}

// TestRunDetailLog: what a flow's log steps keep is shown with the run,
// paged, and deleted with it.
func TestRunDetailLog(t *testing.T) {
	inst, ann := startAdmin(t, apptest.Options{})
	bob := addPerson(t, inst, ann, "bob")
	pid := mustProject(t, bob.C, "Shop")
	pipe := mustPipe(t, bob.C, pid, "Shop ↔ files")
	flow := mustFlow(t, bob.C, pid, pipe, flowDef("logged", map[string]any{"steps": []any{
		map[string]any{"log": "{order: .id, big: (.total > 20)}"},
		map[string]any{"write": map[string]any{"file": map[string]any{"path": "out/logged.ndjson", "format": "ndjson"}}},
	}}))
	writeInput(t, inst, "{\"id\":1,\"total\":10}\n{\"id\":2,\"total\":30}\n{\"id\":3,\"total\":25}\n")
	run := startRun(t, bob.C, pid, pipe, flow)
	if r := waitRun(t, bob.C, pid, run); r.String("status") != "completed" {
		t.Fatalf("run: %s", r.Body)
	}
	base := "/api/v1/projects/" + pid + "/runs/" + run + "/logs"
	var got []string
	next := base + "?limit=2"
	for pages := 0; next != ""; pages++ {
		if pages > 5 {
			t.Fatal("the log pages do not end")
		}
		r := bob.C.Do(t, "GET", next, nil)
		wantStatus(t, r, http.StatusOK, "run log page")
		for _, e := range r.Get("logs").([]any) {
			got = append(got, fmt.Sprintf("%v:%v:%v", dig(e, "entity_id"), dig(e, "value", "order"), dig(e, "value", "big")))
		}
		next = r.String("next")
	}
	if want := []string{"1:1:false", "2:2:true", "3:3:true"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("run log %v, want %v", got, want)
	}
	wantError(t, bob.C.Do(t, "GET", base+"?after=x", nil), http.StatusBadRequest, "invalid_query", "a bad cursor")
	wantStatus(t, ann.Do(t, "GET", base, nil), http.StatusNotFound, "the instance admin without a role")
	wantStatus(t, bob.C.Do(t, "DELETE", "/api/v1/projects/"+pid+"/runs/"+run, nil), http.StatusNoContent, "delete the run")
	wantStatus(t, bob.C.Do(t, "GET", base, nil), http.StatusNotFound, "the deleted run's log")
}
