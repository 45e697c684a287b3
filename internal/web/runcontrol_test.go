package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/runs"
	"github.com/sluice-dev/sluice/internal/store"
)

// queueRun makes a queued run of a flow with its job, which waits an hour
// before any worker may take it, and returns the run's ID.
func queueRun(t *testing.T, inst *apptest.Instance, pid, pipe, flow string) string {
	t.Helper()
	ctx := context.Background()
	r := &store.Run{ProjectID: pid, FlowID: flow, PipeID: pipe, Trigger: store.TriggerManual}
	err := inst.App.Store.InTx(ctx, func(q *store.Q) error {
		if err := q.CreateRun(ctx, r); err != nil {
			return err
		}
		_, err := inst.App.Queue.InsertTx(ctx, q, runs.RunFlowArgs{RunID: r.ID}, &river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return r.ID
}

// queuedRun is a queued run of the cell's flow whose job waits an hour.
func (c *mxCell) queuedRun() string {
	c.t.Helper()
	return queueRun(c.t, c.fx.inst, c.w.project, c.w.pipe, c.w.flow)
}

// reprocessRuns counts the reprocess runs of the cell's project.
func (c *mxCell) reprocessRuns() int {
	c.t.Helper()
	r := c.owned(c.project("/runs?trigger=reprocess"))
	wantStatus(c.t, r, http.StatusOK, "owner lists reprocess runs")
	rs, _ := r.Get("runs").([]any)
	return len(rs)
}

func auditCount(t *testing.T, c *apptest.Client, pid, action string) int {
	t.Helper()
	r := c.Do(t, "GET", "/api/v1/projects/"+pid+"/audit?action="+action, nil)
	wantStatus(t, r, http.StatusOK, "audit")
	evs, _ := r.Get("events").([]any)
	return len(evs)
}

// TestCancelRun cancels a queued run through the API (at once, with an
// audit event), refuses to cancel it again (409), and ends a run that was
// running as cancelled.
func TestCancelRun(t *testing.T) {
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, ann := startAdmin(t, apptest.Options{Dialect: d})
		pid := mustProject(t, ann, "Shop")
		pipe := mustPipe(t, ann, pid, "files")
		flow := mustFlow(t, ann, pid, pipe, fileFlow("orders"))

		run := queueRun(t, inst, pid, pipe, flow)
		r := ann.Do(t, "POST", "/api/v1/projects/"+pid+"/runs/"+run+"/cancel", nil)
		wantStatus(t, r, http.StatusOK, "cancel a queued run")
		if r.String("status") != "cancelled" || r.Get("finished_at") == nil {
			t.Errorf("cancelled run answered %s", r.Body)
		}
		r = ann.Do(t, "POST", "/api/v1/projects/"+pid+"/runs/"+run+"/cancel", nil)
		wantStatus(t, r, http.StatusConflict, "cancel a cancelled run")
		if r.ErrorCode() != "run_finished" || !strings.Contains(r.String("error.message"), "already finished") {
			t.Errorf("second cancel answered %s", r.Body)
		}
		if n := auditCount(t, ann, pid, "run.cancel"); n != 1 {
			t.Errorf("%d run.cancel events, want 1", n)
		}
		r = ann.Do(t, "POST", "/api/v1/projects/"+pid+"/runs/nope/cancel", nil)
		wantStatus(t, r, http.StatusNotFound, "cancel an unknown run")

		// A run some node works: the API asks it to stop; this node's
		// worker is not running it, so the run stays running until the
		// node that is sees the request.
		run = queueRun(t, inst, pid, pipe, flow)
		if ok, err := inst.App.Store.Writer().BeginRun(context.Background(), run, true); err != nil || !ok {
			t.Fatalf("begin: %v %v", ok, err)
		}
		r = ann.Do(t, "POST", "/api/v1/projects/"+pid+"/runs/"+run+"/cancel", nil)
		wantStatus(t, r, http.StatusOK, "cancel a running run")
		if r.String("status") != "running" {
			t.Errorf("a running run asked to cancel answered %s", r.Body)
		}
		got, err := inst.App.Store.Reader().RunByID(context.Background(), pid, run)
		if err != nil || !got.CancelRequested {
			t.Errorf("run %+v (%v): cancel_requested not set", got, err)
		}
	})
}

// TestReprocess is the reprocessing story through the API, against
// PostgreSQL and MariaDB: a sql → sql flow where two rows break a NOT NULL
// column of the target; reprocessing given IDs and then every failure
// left, a row gone from the source, and the refusals.
func TestReprocess(t *testing.T) {
	for _, tc := range []struct {
		name string
		db   func(*testing.T) *sqlRunDB
	}{{"PostgreSQL", postgresRunDB}, {"MariaDB", mariaRunDB}} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.db(t)
			ctx := context.Background()
			exec := func(q string) {
				t.Helper()
				if _, err := d.db.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			for _, q := range append(d.ddl, `INSERT INTO src (id, name, qty) VALUES (1, 'one', 1), (2, 'two', 2), (3, NULL, 3), (4, 'four', 4), (5, NULL, 5)`) {
				exec(q)
			}
			def := map[string]any{
				"name":      "copy",
				"read":      map[string]any{"connection": "db", "sql": map[string]any{"query": "SELECT id, name, qty FROM src", "cursor_column": "id", "key": "id", "batch_size": 2}},
				"entity_id": ".id",
				"steps": []any{
					map[string]any{"map": "{id, name, qty: (.qty * 10)}"},
					map[string]any{"write": map[string]any{"connection": "db", "sql": map[string]any{"table": "dst", "mode": "upsert", "key": []any{"id"}}}},
				},
			}
			inst, ann := startAdmin(t, loopbackAllowed)
			pid := mustProject(t, ann, "Warehouse")
			r := ann.Do(t, "POST", "/api/v1/projects/"+pid+"/connections", map[string]any{"name": "db", "kind": d.kind, "settings": d.settings})
			wantStatus(t, r, http.StatusCreated, "create connection")
			pipe := mustPipe(t, ann, pid, "db → db")
			flow := mustFlow(t, ann, pid, pipe, def)
			runs := "/api/v1/projects/" + pid + "/runs/"

			parent := startRun(t, ann, pid, pipe, flow)
			if r := waitRun(t, ann, pid, parent); r.String("status") != "partially_failed" {
				t.Fatalf("run: %s", r.Body)
			}
			failures := func(run string) map[string]map[string]any {
				t.Helper()
				r := ann.Do(t, "GET", runs+run+"/failures", nil)
				wantStatus(t, r, http.StatusOK, "failures")
				out := map[string]map[string]any{}
				fs, _ := r.Get("failures").([]any)
				for _, f := range fs {
					f := f.(map[string]any)
					out[f["entity_id"].(string)] = f
				}
				return out
			}
			if fs := failures(parent); len(fs) != 2 || fs["3"] == nil || fs["5"] == nil {
				t.Fatalf("failures %v, want entities 3 and 5", fs)
			}
			reprocess := func(body any, status int, what string) *apptest.Response {
				t.Helper()
				r := ann.Do(t, "POST", runs+parent+"/reprocess", body)
				wantStatus(t, r, status, what)
				return r
			}

			// IDs that are not failures of the run are listed, and nothing
			// starts.
			r = reprocess(map[string]any{"entity_ids": []any{"3", "99", "1"}}, http.StatusUnprocessableEntity, "unknown IDs")
			if msg := string(r.Body); !strings.Contains(msg, "99") || !strings.Contains(msg, `not a failed record of this run: 1`) || strings.Contains(msg, "record of this run: 3") {
				t.Errorf("unknown IDs answered %s", r.Body)
			}
			reprocess(map[string]any{"entity_ids": []any{}}, http.StatusUnprocessableEntity, "no IDs")
			reprocess(map[string]any{"entity_ids": []any{""}}, http.StatusUnprocessableEntity, "a blank ID")
			reprocess(map[string]any{}, http.StatusUnprocessableEntity, "a body without entity_ids")

			// Fix row 3 and reprocess it alone.
			exec(`UPDATE src SET name = 'three' WHERE id = 3`)
			r = reprocess(map[string]any{"entity_ids": []any{"3"}}, http.StatusAccepted, "reprocess 3")
			if r.String("trigger") != "reprocess" || r.String("parent_run_id") != parent || r.String("status") != "queued" {
				t.Errorf("reprocess run answered %s", r.Body)
			}
			child := r.String("id")
			r = waitRun(t, ann, pid, child)
			if r.String("status") != "completed" || !equalCounts(records(r), map[string]float64{"read": 1, "succeeded": 1, "failed": 0, "skipped": 0}) {
				t.Fatalf("reprocess of 3: %s", r.Body)
			}
			fs := failures(parent)
			if fs["3"]["reprocessed_by"] != child || fs["5"]["reprocessed_by"] != nil {
				t.Errorf("after reprocessing 3: %v", fs)
			}

			// Row 5 is gone from the source: its reprocess fails at read,
			// keeping its entity ID, and the parent's failure stays open.
			exec(`DELETE FROM src WHERE id = 5`)
			r = reprocess(nil, http.StatusAccepted, "reprocess what is left")
			gone := r.String("id")
			if r := waitRun(t, ann, pid, gone); r.String("status") != "failed" {
				t.Fatalf("reprocess of a deleted row: %s", r.Body)
			}
			if f := failures(gone)["5"]; f == nil || f["stage"] != "read" || !strings.Contains(f["error"].(string), "no longer has the record") {
				t.Errorf("failure of the deleted row: %v", failures(gone))
			}
			if fs := failures(parent); fs["5"]["reprocessed_by"] != nil {
				t.Errorf("a failure that failed again was marked: %v", fs["5"])
			}

			// Put row 5 back, fixed: reprocessing the rest completes it.
			exec(`INSERT INTO src (id, name, qty) VALUES (5, 'five', 5)`)
			last := reprocess(nil, http.StatusAccepted, "reprocess the rest").String("id")
			if r := waitRun(t, ann, pid, last); r.String("status") != "completed" || records(r)["read"] != 1 {
				t.Fatalf("last reprocess: %s", r.Body)
			}
			if fs := failures(parent); fs["3"]["reprocessed_by"] != child || fs["5"]["reprocessed_by"] != last {
				t.Errorf("after the last reprocess: %v", fs)
			}
			r = reprocess(nil, http.StatusConflict, "nothing left")
			if r.ErrorCode() != "nothing_to_reprocess" {
				t.Errorf("nothing left answered %s", r.Body)
			}
			var n int
			if err := d.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM dst`).Scan(&n); err != nil || n != 5 {
				t.Errorf("dst has %d rows (%v), want 5", n, err)
			}
			if n := auditCount(t, ann, pid, "run.reprocess"); n != 3 {
				t.Errorf("%d run.reprocess events, want 3", n)
			}

			// Another project's run is not found from this one.
			other := mustProject(t, ann, "Other")
			r = ann.Do(t, "POST", "/api/v1/projects/"+other+"/runs/"+parent+"/reprocess", nil)
			wantStatus(t, r, http.StatusNotFound, "reprocess a run of another project")

			// A flow that reads a file cannot fetch by ID: refused, clearly.
			writeInput(t, inst, "{\"id\":1,\"total\":1}\n")
			fileRun := startRun(t, ann, pid, pipe, mustFlow(t, ann, pid, pipe, fileFlow("orders")))
			waitRun(t, ann, pid, fileRun)
			r = ann.Do(t, "POST", runs+fileRun+"/reprocess", nil)
			wantStatus(t, r, http.StatusUnprocessableEntity, "reprocess a file flow's run")
			if r.ErrorCode() != "not_reprocessable" || !strings.Contains(r.String("error.message"), "reads from a file") {
				t.Errorf("file flow reprocess answered %s", r.Body)
			}
		})
	}
}
