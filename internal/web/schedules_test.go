package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/runs"
	"github.com/sluice-dev/sluice/internal/store"
)

// jsonAt reads list[i].field of a JSON answer.
func jsonAt(r *apptest.Response, list string, i int, field string) any {
	l, _ := r.Get(list).([]any)
	if i >= len(l) {
		return nil
	}
	m, _ := l[i].(map[string]any)
	return m[field]
}

func jsonStr(r *apptest.Response, list string, i int, field string) string {
	s, _ := jsonAt(r, list, i, field).(string)
	return s
}

// TestFlowSchedule: a scheduled flow fires when the clock passes its due
// time, the run has trigger schedule, and GET .../schedule lists the
// schedules with their next due times and the firings.
func TestFlowSchedule(t *testing.T) {
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, ann := startAdmin(t, apptest.Options{Dialect: d})
		bob := addPerson(t, inst, ann, "bob")
		pid := mustProject(t, bob.C, "Shop")
		pipe := mustPipe(t, bob.C, pid, "Shop ↔ files")
		def := fileFlow("orders")
		def["trigger"] = map[string]any{"schedules": []any{
			map[string]any{"cron": "*/15 * * * *", "timezone": "America/Chicago"},
			map[string]any{"cron": "0 6 * * *"},
		}}
		flow := mustFlow(t, bob.C, pid, pipe, def)
		writeInput(t, inst, `{"id":1,"total":10}`+"\n")
		sched := flowPath(pid, pipe, "/", flow, "/schedule")

		// Disabled: the schedules are listed with no next due time.
		r := bob.C.Do(t, "GET", sched, nil)
		wantStatus(t, r, http.StatusOK, "schedule of a disabled flow")
		if r.Get("active") != false || jsonAt(r, "schedules", 0, "next_fire_at") != nil || jsonStr(r, "schedules", 0, "cron") != "*/15 * * * *" ||
			jsonStr(r, "schedules", 0, "timezone") != "America/Chicago" || jsonStr(r, "schedules", 1, "timezone") != "UTC" {
			t.Fatalf("disabled flow's schedule %s", r.Body)
		}
		wantStatus(t, bob.C.Do(t, "POST", flowPath(pid, pipe, "/", flow, "/enable"), nil), http.StatusOK, "enable")
		r = bob.C.Do(t, "GET", sched, nil)
		next, err := time.Parse(time.RFC3339, jsonStr(r, "schedules", 0, "next_fire_at"))
		if err != nil || r.Get("active") != true || !next.After(inst.Clock.Now()) || next.Sub(inst.Clock.Now()) > 15*time.Minute || next.Minute()%15 != 0 {
			t.Fatalf("enabled flow's schedule %s (now %s)", r.Body, inst.Clock.Now())
		}

		// The clock passes the due time; the tick (as the leader runs it)
		// starts one run.
		inst.Clock.Advance(next.Sub(inst.Clock.Now()) + 5*time.Second)
		for range 2 {
			if _, err := inst.App.Scheduler.Tick(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		r = bob.C.Do(t, "GET", sched, nil)
		fires, _ := r.Get("fires").([]any)
		if len(fires) != 1 || jsonStr(r, "fires", 0, "outcome") != "started" || jsonStr(r, "fires", 0, "fire_at") != next.UTC().Format(time.RFC3339) ||
			jsonStr(r, "schedules", 0, "last_fire_at") == "" {
			t.Fatalf("after the due time: %s", r.Body)
		}
		run := waitRun(t, bob.C, pid, jsonStr(r, "fires", 0, "run_id"))
		if run.String("trigger") != "schedule" || run.String("status") != "completed" ||
			run.String("triggered_by") != "schedule[0]: */15 * * * * America/Chicago" {
			t.Errorf("scheduled run %s", run.Body)
		}

		// Another project's member sees nothing; a flow of another pipe
		// is not found.
		eve := addPerson(t, inst, ann, "eve")
		wantStatus(t, eve.C.Do(t, "GET", sched, nil), http.StatusNotFound, "outsider")
		other := mustPipe(t, bob.C, pid, "other")
		wantStatus(t, bob.C.Do(t, "GET", flowPath(pid, other, "/", flow, "/schedule"), nil), http.StatusNotFound, "flow under another pipe")
		wantStatus(t, bob.C.Do(t, "GET", sched+"?limit=0", nil), http.StatusBadRequest, "limit 0")
	})
}

// TestFailureAlertWebhook: a failed run sends one signed webhook through
// the egress guard, worked by the instance's own queue.
func TestFailureAlertWebhook(t *testing.T) {
	var mu sync.Mutex
	var bodies [][]byte
	var sigs []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies, sigs = append(bodies, b), append(sigs, r.Header.Get(runs.HeaderSignature))
		mu.Unlock()
	}))
	defer srv.Close()
	inst, ann := startAdmin(t, apptest.Options{Args: []string{"--egress-allow", "127.0.0.0/8"}})
	pid := mustProject(t, ann, "Shop")
	pipe := mustPipe(t, ann, pid, "files")
	flow := mustFlow(t, ann, pid, pipe, fileFlow("orders"))

	// Plain http is refused unless the project's allowlist names the host.
	r := ann.Do(t, "PATCH", "/api/v1/projects/"+pid, map[string]any{"settings": map[string]any{
		"alerts": map[string]any{"enabled": true, "on": []string{"failed"}, "webhook_url": srv.URL + "/hook"}}})
	wantStatus(t, r, http.StatusUnprocessableEntity, "http webhook to a host not allowlisted")
	if !strings.Contains(string(r.Body), "settings.alerts.webhook_url") {
		t.Errorf("refusal does not name the field: %s", r.Body)
	}
	r = ann.Do(t, "PATCH", "/api/v1/projects/"+pid, map[string]any{"settings": map[string]any{
		"egress_allowlist": []string{"127.0.0.1"},
		"alerts":           map[string]any{"enabled": true, "on": []string{"failed"}, "webhook_url": srv.URL + "/hook"}}})
	wantStatus(t, r, http.StatusOK, "alerts with a webhook")
	r = ann.Do(t, "POST", "/api/v1/projects/"+pid+"/alerts/webhook-secret", nil)
	wantStatus(t, r, http.StatusCreated, "webhook secret")
	secret := r.String("secret")
	if r = ann.Do(t, "GET", "/api/v1/projects/"+pid+"/alerts/webhook-secret", nil); r.Get("set") != true || strings.Contains(string(r.Body), secret) {
		t.Errorf("secret status %s", r.Body)
	}

	// No input file: the run fails.
	id := startRun(t, ann, pid, pipe, flow)
	if run := waitRun(t, ann, pid, id); run.String("status") != "failed" {
		t.Fatalf("run %s", run.Body)
	}
	deadline := time.Now().Add(30 * time.Second) // a hang guard, not a timing assertion
	for {
		mu.Lock()
		n := len(bodies)
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 1 {
		t.Fatalf("%d webhook calls, want 1", len(bodies))
	}
	var got runs.Alert
	if err := json.Unmarshal(bodies[0], &got); err != nil {
		t.Fatal(err)
	}
	if got.RunID != id || got.Status != "failed" || got.Project.Name != "Shop" || !strings.HasPrefix(got.Link, inst.URL+"/api/v1/projects/"+pid+"/runs/") {
		t.Errorf("alert %s", bodies[0])
	}
	ts, _, _ := strings.Cut(strings.TrimPrefix(sigs[0], "t="), ",")
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		t.Fatalf("signature %q: %v", sigs[0], err)
	}
	if want := runs.Sign(secret, time.Unix(unix, 0), bodies[0]); sigs[0] != want {
		t.Errorf("signature %q, want %q", sigs[0], want)
	}
}
