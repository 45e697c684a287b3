package web_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-dev/sluice/internal/app/apptest"
)

// TestRunCallRetries: a run's call step asks an http connection on
// loopback about each record; answers that are worth trying again (503)
// are retried under on_error, each failure keeps how many tries it had.
func TestRunCallRetries(t *testing.T) {
	var mu sync.Mutex
	tries := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		tries[r.URL.Path]++
		n := tries[r.URL.Path]
		mu.Unlock()
		switch {
		case r.URL.Path == "/customers/1", r.URL.Path == "/customers/2" && n > 1:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"name":"C` + strings.TrimPrefix(r.URL.Path, "/customers/") + `"}`))
		case r.URL.Path == "/customers/4":
			http.Error(w, "bad customer", http.StatusBadRequest)
		default:
			http.Error(w, "busy", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()

	inst, ann := startAdmin(t, apptest.Options{Args: []string{"--egress-allow", "127.0.0.0/8"}})
	bob := addPerson(t, inst, ann, "bob")
	pid := mustProject(t, bob.C, "Shop")
	wantStatus(t, bob.C.Do(t, "POST", "/api/v1/projects/"+pid+"/connections", map[string]any{"name": "crm", "kind": "http",
		"settings": map[string]any{"base_url": srv.URL}, "auth": map[string]any{"type": "bearer", "token": "Call-Token-Secret-1"}}),
		http.StatusCreated, "create connection")
	pipe := mustPipe(t, bob.C, pid, "Shop ↔ CRM")
	flow := mustFlow(t, bob.C, pid, pipe, flowDef("calls", map[string]any{
		"steps": []any{
			map[string]any{"call": map[string]any{"connection": "crm", "request": map[string]any{"method": "GET", "path": "/customers/{{.id}}"}, "as": "customer"}},
			map[string]any{"map": "{id, name: .customer.name}"},
		},
		"write":    map[string]any{"file": map[string]any{"path": "out/calls.ndjson", "format": "ndjson"}},
		"on_error": map[string]any{"retries": 2, "backoff": "1ms", "max_backoff": "2ms"},
	}))
	writeInput(t, inst, "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n{\"id\":4}\n")

	run := startRun(t, bob.C, pid, pipe, flow)
	r := waitRun(t, bob.C, pid, run)
	if r.String("status") != "partially_failed" {
		t.Fatalf("run: %s", r.Body)
	}
	if got, want := records(r), map[string]float64{"read": 4, "succeeded": 2, "failed": 2, "skipped": 0}; !equalCounts(got, want) {
		t.Errorf("records %v, want %v", got, want)
	}
	out, err := os.ReadFile(filepath.Join(inst.App.Config.FilesDir, "out", "calls.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\"id\":1,\"name\":\"C1\"}\n{\"id\":2,\"name\":\"C2\"}\n"; string(out) != want {
		t.Errorf("output %q, want %q", out, want)
	}
	r = bob.C.Do(t, "GET", "/api/v1/projects/"+pid+"/runs/"+run+"/failures", nil)
	wantStatus(t, r, http.StatusOK, "failures")
	fs, _ := r.Get("failures").([]any)
	byID := map[string]map[string]any{}
	for _, x := range fs {
		f := x.(map[string]any)
		byID[f["entity_id"].(string)] = f
	}
	if f := byID["3"]; f == nil || f["stage"] != "steps[0].call" || f["attempts"] != float64(3) || !strings.Contains(f["error"].(string), "(after 2 retries)") {
		t.Errorf("failure of 3: %v", f)
	}
	if f := byID["4"]; f == nil || f["stage"] != "steps[0].call" || f["attempts"] != float64(1) {
		t.Errorf("failure of 4: %v", f)
	}
	if strings.Contains(string(r.Body), "Call-Token-Secret-1") {
		t.Errorf("a failure shows the token: %s", r.Body)
	}
	mu.Lock()
	defer mu.Unlock()
	if tries["/customers/1"] != 1 || tries["/customers/2"] != 2 || tries["/customers/3"] != 3 || tries["/customers/4"] != 1 {
		t.Errorf("tries %v: only transient failures are tried again, at most retries+1 times", tries)
	}
}
