package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/store"
)

// TestDeleteRunsBefore: DELETE /api/v1/projects/{p}/runs?before= deletes
// the finished runs created before the date, never a running one, and
// says how many; a missing, malformed or future date is refused with 422
// naming the parameter, a standard member with 403 and an outsider with
// 404, and nothing changes; the deletion is in the activity log.
func TestDeleteRunsBefore(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		inst, ann := startAdmin(t, apptest.Options{Dialect: d})
		bob := addPerson(t, inst, ann, "bob")
		sam := addPerson(t, inst, ann, "sam")
		eve := addPerson(t, inst, ann, "eve")
		pid := mustProject(t, bob.C, "Alpha")
		mustMember(t, bob.C, pid, map[string]any{"user_id": sam.ID, "role": "standard"})
		pipe := mustPipe(t, bob.C, pid, "orders")
		flow := mustFlow(t, bob.C, pid, pipe, fileFlow("orders"))
		st := inst.App.Store
		mk := func(status string) string {
			r := &store.Run{ProjectID: pid, FlowID: flow, PipeID: pipe, Trigger: store.TriggerManual, Status: status}
			if err := st.Writer().CreateRun(ctx, r); err != nil {
				t.Fatal(err)
			}
			return r.ID
		}
		old, oldFailed, running := mk(store.RunCompleted), mk(store.RunFailed), mk(store.RunRunning)
		if err := st.InTx(ctx, func(q *store.Q) error {
			return q.InsertRunFailures(ctx, []store.RunFailure{{RunID: oldFailed, EntityID: "7", Stage: "write", Error: "refused"}})
		}); err != nil {
			t.Fatal(err)
		}
		// A minute on (sessions outlive it): cut between the runs.
		inst.Clock.Advance(time.Minute)
		cut := inst.Clock.Now().Add(-30 * time.Second).Format(time.RFC3339)
		newer := mk(store.RunCompleted)
		path := "/api/v1/projects/" + pid + "/runs"
		count := func() int {
			r := bob.C.Do(t, "GET", path, nil)
			wantStatus(t, r, http.StatusOK, "list runs")
			return len(r.Get("runs").([]any))
		}

		future := inst.Clock.Now().Add(time.Hour).Format(time.RFC3339)
		for _, tc := range []struct{ query, says string }{
			{"", "is required"},
			{"?before=", "is required"},
			{"?before=yesterday", "RFC 3339"},
			{"?before=2026-13-01", "RFC 3339"},
			{"?before=" + url.QueryEscape(future), "future"},
		} {
			r := bob.C.Do(t, "DELETE", path+tc.query, nil)
			wantError(t, r, http.StatusUnprocessableEntity, "invalid_query", "before "+tc.query)
			if errorField(r) != "before" || !strings.Contains(string(r.Body), tc.says) {
				t.Errorf("%q: refused with %s, want the field before and %q", tc.query, r.Body, tc.says)
			}
		}
		wantError(t, sam.C.Do(t, "DELETE", path+"?before="+url.QueryEscape(cut), nil), http.StatusForbidden, "forbidden", "a standard member")
		wantError(t, eve.C.Do(t, "DELETE", path+"?before="+url.QueryEscape(cut), nil), http.StatusNotFound, "not_found", "an outsider")
		if n := count(); n != 4 {
			t.Fatalf("%d runs after the refused deletions, want 4", n)
		}

		r := bob.C.Do(t, "DELETE", path+"?before=2001-01-01", nil)
		if r.Status != http.StatusOK || r.Get("deleted") != float64(0) {
			t.Fatalf("a date before every run: %d %s", r.Status, r.Body)
		}
		r = bob.C.Do(t, "DELETE", path+"?before="+url.QueryEscape(cut), nil)
		if r.Status != http.StatusOK || r.Get("deleted") != float64(2) {
			t.Fatalf("delete before %s: %d %s, want 2 deleted", cut, r.Status, r.Body)
		}
		for id, want := range map[string]int{old: 404, oldFailed: 404, running: 200, newer: 200} {
			if got := bob.C.Do(t, "GET", path+"/"+id, nil).Status; got != want {
				t.Errorf("run %s answers %d, want %d", id, got, want)
			}
		}
		var failures int
		if err := st.WriteDB().QueryRowContext(ctx, `SELECT COUNT(*) FROM run_failures WHERE run_id = $1`, oldFailed).Scan(&failures); err != nil || failures != 0 {
			t.Errorf("%d failures of a deleted run left, %v", failures, err)
		}
		e := eventsOf(t, bob.C.Do(t, "GET", "/api/v1/projects/"+pid+"/audit?limit=1", nil))[0]
		if e["action"] != "run.delete_before" || dig(e["detail"], "deleted") != float64(2) || dig(e["detail"], "before") != cut {
			t.Fatalf("deletion event %v", e)
		}
	})
}

// TestRetentionLongerThanPlanRefused: a project may shorten its plan's
// retention, not lengthen it: a longer one is a 422 naming the field, and
// the settings stay as they were.
func TestRetentionLongerThanPlanRefused(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, ann := startAdmin(t, apptest.Options{Dialect: d})
		bob := addPerson(t, inst, ann, "bob")
		pa := "/api/v1/projects/" + mustProject(t, bob.C, "Alpha")
		retention := map[string]any{"retention": map[string]any{"run_log_days": 10, "console_log_days": 3}}
		wantStatus(t, bob.C.Do(t, "PATCH", pa, map[string]any{"settings": retention}), http.StatusOK, "a shorter retention")
		for field, body := range map[string]map[string]any{
			"settings.retention.run_log_days":     {"run_log_days": 31},
			"settings.retention.console_log_days": {"console_log_days": 8},
		} {
			r := bob.C.Do(t, "PATCH", pa, map[string]any{"settings": map[string]any{"retention": body}})
			wantError(t, r, http.StatusUnprocessableEntity, "invalid_field", field)
			if errorField(r) != field || !strings.Contains(string(r.Body), "plan") {
				t.Errorf("refused with %s, want the field %s and the plan's days", r.Body, field)
			}
		}
		r := bob.C.Do(t, "GET", pa, nil)
		if r.Get("settings.retention.run_log_days") != float64(10) || r.Get("settings.retention.console_log_days") != float64(3) {
			t.Fatalf("settings after the refusals: %s", r.Body)
		}
	})
}
