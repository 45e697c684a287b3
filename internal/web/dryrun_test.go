package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/store"
)

// dryFlowDef maps, filters, validates and logs the records, then writes
// them to a file: what a dry run must show and never do.
func dryFlowDef(name string) map[string]any {
	return flowDef(name, map[string]any{"steps": []any{
		map[string]any{"filter": ".total > 0"},
		map[string]any{"map": "{id, total, doubled: (.total * 2)}"},
		map[string]any{"fail": `if .total > 100 then "total over 100" else empty end`},
		map[string]any{"log": "{id, doubled}"},
		map[string]any{"write": map[string]any{"file": map[string]any{"path": "out/dry.ndjson", "format": "ndjson"}}},
	}})
}

// runCount is the number of run rows, read from the store directly.
func runCount(t *testing.T, inst *apptest.Instance) int {
	t.Helper()
	var n int
	if err := inst.App.Store.WriteDB().QueryRowContext(context.Background(), "SELECT COUNT(*) FROM runs").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func dryRecords(t *testing.T, r *apptest.Response) []map[string]any {
	t.Helper()
	list, _ := r.Get("records").([]any)
	out := make([]map[string]any, len(list))
	for i, x := range list {
		out[i], _ = x.(map[string]any)
	}
	return out
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestDryRun(t *testing.T) {
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, ann := startAdmin(t, apptest.Options{Dialect: d})
		bob := addPerson(t, inst, ann, "bob")
		pid := mustProject(t, bob.C, "Shop")
		pipe := mustPipe(t, bob.C, pid, "Shop ↔ files")
		f := mustFlow(t, bob.C, pid, pipe, dryFlowDef("orders"))
		test := flowPath(pid, pipe, "/", f, "/test")
		before := pipelineState(t, inst)

		r := bob.C.Do(t, "POST", test, map[string]any{"records": []any{
			map[string]any{"id": 1, "total": 10},
			map[string]any{"id": 2, "total": 0},
			map[string]any{"id": 3, "total": 500},
			map[string]any{"total": 5},
			json.RawMessage(`{"id": 9007199254740993, "total": 1.10}`),
		}})
		wantStatus(t, r, http.StatusOK, "dry run")
		if r.Get("version") != float64(1) || r.Get("calls") != false || r.String("flow_id") != f {
			t.Errorf("dry run answer %s", r.Body)
		}
		if got, want := jsonOf(r.Get("counts")), `{"failed":2,"read":5,"skipped":1,"succeeded":2}`; got != want {
			t.Errorf("counts %s, want %s", got, want)
		}
		recs := dryRecords(t, r)
		if len(recs) != 5 {
			t.Fatalf("records %s", r.Body)
		}

		ok := recs[0]
		if ok["status"] != "succeeded" || ok["entity_id"] != "1" || ok["index"] != float64(0) {
			t.Errorf("record 0: %v", ok)
		}
		steps, _ := ok["steps"].([]any)
		var got []string
		for _, s := range steps {
			m := s.(map[string]any)
			got = append(got, m["path"].(string)+" "+m["kind"].(string)+" "+m["status"].(string))
		}
		want := []string{"steps[0] filter ok", "steps[1] map ok", "steps[2] fail ok", "steps[3] log ok", "steps[4] write ok"}
		if !slices.Equal(got, want) {
			t.Errorf("steps %v, want %v", got, want)
		}
		if o := jsonOf(steps[1].(map[string]any)["output"]); o != `{"doubled":20,"id":1,"total":10}` {
			t.Errorf("map output %s", o)
		}
		if l := jsonOf(steps[3].(map[string]any)["logged"]); l != `[{"doubled":20,"id":1}]` {
			t.Errorf("logged %s", l)
		}
		if w := jsonOf(ok["writes"]); w != `[{"path":"steps[4]","previewed":false,"sent":{"doubled":20,"id":1,"total":10}}]` {
			t.Errorf("writes %s", w)
		}

		if s := recs[1]; s["status"] != "skipped" || jsonOf(s["steps"]) != `[{"kind":"filter","path":"steps[0]","status":"skipped"}]` || jsonOf(s["writes"]) != `[]` {
			t.Errorf("record 1: %v", s)
		}
		if s := recs[2]; s["status"] != "failed" || s["stage"] != "steps[2].fail" || s["error"] != "total over 100" || s["entity_id"] != "3" {
			t.Errorf("record 2: %v", s)
		}
		if s := recs[3]; s["status"] != "failed" || s["stage"] != "entity_id" || s["entity_id"] != nil || !strings.Contains(s["error"].(string), "null") {
			t.Errorf("record 3: %v", s)
		}
		// Big IDs and decimals pass through unchanged, as in a run.
		if s := recs[4]; s["entity_id"] != "9007199254740993" || !strings.Contains(string(r.Body), `"sent":{"doubled":2.2,"id":9007199254740993,"total":1.10}`) {
			t.Errorf("record 4: %v", s)
		}

		// Nothing was written, and no run was made or audited.
		if _, err := os.Stat(filepath.Join(inst.App.Config.FilesDir, "out")); !os.IsNotExist(err) {
			t.Errorf("a dry run touched the files directory: %v", err)
		}
		if n := runCount(t, inst); n != 0 {
			t.Errorf("%d runs after a dry run", n)
		}
		samePipelines(t, inst, before, "a dry run")

		// An unsaved definition is tried instead of the saved one; its
		// call is not made, and the record goes on with null under as.
		def := flowDef("orders", map[string]any{"steps": []any{
			map[string]any{"call": map[string]any{"connection": "crm", "request": map[string]any{"method": "GET", "path": "/customers/{{.id}}"}, "as": "customer"}},
			map[string]any{"map": "{id, customer}"},
		}})
		r = bob.C.Do(t, "POST", test, map[string]any{"records": []any{map[string]any{"id": 1}}, "definition": def})
		wantStatus(t, r, http.StatusOK, "dry run of an unsaved definition")
		recs = dryRecords(t, r)
		if r.Get("version") != nil || len(recs) != 1 || recs[0]["status"] != "succeeded" {
			t.Fatalf("dry run answer %s", r.Body)
		}
		call := recs[0]["steps"].([]any)[0].(map[string]any)
		if call["status"] != "not_made" || jsonOf(call["output"]) != `{"customer":null,"id":1}` || !strings.Contains(call["error"].(string), `"crm"`) {
			t.Errorf("call step %v", call)
		}
		// Made, the call fails the record: the project has no crm.
		r = bob.C.Do(t, "POST", test, map[string]any{"records": []any{map[string]any{"id": 1}}, "definition": def, "calls": true})
		wantStatus(t, r, http.StatusOK, "dry run making calls")
		if s := dryRecords(t, r)[0]; s["status"] != "failed" || s["stage"] != "steps[0].call" || !strings.Contains(s["error"].(string), `"crm"`) {
			t.Errorf("record with its call made: %v", s)
		}
		samePipelines(t, inst, before, "a dry run of an unsaved definition")
	})
}

func TestDryRunBadInput(t *testing.T) {
	inst, ann := startAdmin(t, apptest.Options{})
	bob := addPerson(t, inst, ann, "bob")
	pid := mustProject(t, bob.C, "Shop")
	pipe := mustPipe(t, bob.C, pid, "Shop ↔ files")
	f := mustFlow(t, bob.C, pid, pipe, dryFlowDef("orders"))
	test := flowPath(pid, pipe, "/", f, "/test")
	before := pipelineState(t, inst)

	many := make([]any, 101)
	for i := range many {
		many[i] = map[string]any{"id": i}
	}
	badDef := flowDef("orders", map[string]any{"steps": []any{map[string]any{"map": "{id,"}}})
	for _, tc := range []struct {
		name   string
		path   string
		body   any
		status int
		fields []string
	}{
		{name: "records missing", path: test, body: map[string]any{}, status: 422, fields: []string{"records"}},
		{name: "records not an array", path: test, body: map[string]any{"records": map[string]any{"id": 1}}, status: 422, fields: []string{"records"}},
		{name: "records empty", path: test, body: map[string]any{"records": []any{}}, status: 422, fields: []string{"records"}},
		{name: "too many records", path: test, body: map[string]any{"records": many}, status: 422, fields: []string{"records"}},
		{name: "invalid definition", path: test, body: map[string]any{"records": []any{map[string]any{"id": 1}}, "definition": badDef}, status: 422, fields: []string{"definition.steps[0].map"}},
		{name: "every problem at once", path: test, body: map[string]any{"records": 5, "definition": badDef}, status: 422, fields: []string{"records", "definition.steps[0].map"}},
		{name: "definition not a document", path: test, body: map[string]any{"records": []any{1}, "definition": 7}, status: 422, fields: []string{"definition"}},
		{name: "unknown field", path: test, body: map[string]any{"records": []any{1}, "call": true}, status: 400},
		{name: "unknown flow", path: flowPath(pid, pipe, "/", "no-such-flow", "/test"), body: map[string]any{"records": 5}, status: 404},
		{name: "unknown pipe", path: flowPath(pid, "no-such-pipe", "/", f, "/test"), body: map[string]any{"records": []any{1}}, status: 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := bob.C.Do(t, "POST", tc.path, tc.body)
			wantError(t, r, tc.status, "", tc.name)
			if tc.fields != nil && !slices.Equal(problemFields(r), tc.fields) {
				t.Errorf("problems at %v, want %v; body %s", problemFields(r), tc.fields, r.Body)
			}
		})
	}
	if n := runCount(t, inst); n != 0 {
		t.Errorf("%d runs after refused dry runs", n)
	}
	samePipelines(t, inst, before, "refused dry runs")
}

// TestDryRunHTTP: through an http connection on loopback, a dry run
// previews the write's request without sending it or its credentials,
// and makes the call only when asked to.
func TestDryRunHTTP(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Method+" "+r.URL.Path]++
		mu.Unlock()
		if r.Method == "GET" && r.URL.Path == "/customers/1" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"name":"Ada"}`))
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	seenNow := func() string {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Sprint(seen)
	}

	inst, ann := startAdmin(t, apptest.Options{Args: []string{"--egress-allow", "127.0.0.0/8"}})
	bob := addPerson(t, inst, ann, "bob")
	pid := mustProject(t, bob.C, "Shop")
	wantStatus(t, bob.C.Do(t, "POST", "/api/v1/projects/"+pid+"/connections", map[string]any{"name": "erp", "kind": "http",
		"settings": map[string]any{"base_url": srv.URL}, "auth": map[string]any{"type": "bearer", "token": "DryRun-Token-Secret-1"}}),
		http.StatusCreated, "create connection")
	pipe := mustPipe(t, bob.C, pid, "Shop ↔ ERP")
	f := mustFlow(t, bob.C, pid, pipe, flowDef("orders", map[string]any{
		"steps": []any{map[string]any{"call": map[string]any{"connection": "erp", "request": map[string]any{"method": "GET", "path": "/customers/{{.id}}"}, "as": "customer"}}},
		"write": map[string]any{"connection": "erp", "request": map[string]any{"method": "POST", "path": "/orders"}},
	}))
	test := flowPath(pid, pipe, "/", f, "/test")
	records := []any{map[string]any{"id": 1}, map[string]any{"id": 2}}

	r := bob.C.Do(t, "POST", test, map[string]any{"records": records})
	wantStatus(t, r, http.StatusOK, "dry run")
	if strings.Contains(string(r.Body), "DryRun-Token-Secret-1") {
		t.Fatalf("a dry run showed the connection's token: %s", r.Body)
	}
	recs := dryRecords(t, r)
	if len(recs) != 2 || recs[0]["status"] != "succeeded" {
		t.Fatalf("dry run %s", r.Body)
	}
	if call := recs[0]["steps"].([]any)[0].(map[string]any); call["status"] != "not_made" || call["error"] != nil {
		t.Errorf("call %v", call)
	}
	w := recs[0]["writes"].([]any)[0].(map[string]any)
	sent, _ := w["sent"].(map[string]any)
	if w["path"] != "write" || w["previewed"] != true || sent["method"] != "POST" || sent["url"] != srv.URL+"/orders" ||
		jsonOf(sent["body"]) != `{"customer":null,"id":1}` {
		t.Errorf("write preview %v", w)
	}
	if s := seenNow(); s != "map[]" {
		t.Errorf("a dry run without calls sent %s", s)
	}

	r = bob.C.Do(t, "POST", test, map[string]any{"records": records, "calls": true})
	wantStatus(t, r, http.StatusOK, "dry run with calls")
	recs = dryRecords(t, r)
	if call := recs[0]["steps"].([]any)[0].(map[string]any); call["status"] != "ok" || jsonOf(call["output"]) != `{"customer":{"name":"Ada"},"id":1}` {
		t.Errorf("call made %v", call)
	}
	// A 404 answer is null: the record goes on.
	if call := recs[1]["steps"].([]any)[0].(map[string]any); call["status"] != "ok" || jsonOf(call["output"]) != `{"customer":null,"id":2}` {
		t.Errorf("call answered 404 %v", call)
	}
	if s := seenNow(); s != "map[GET /customers/1:1 GET /customers/2:1]" {
		t.Errorf("a dry run with calls sent %s: the calls once each, never the write", s)
	}
	if n := runCount(t, inst); n != 0 {
		t.Errorf("%d runs after dry runs", n)
	}
}
