package console_test

// Browser journeys of the run pages (runs.go): a partly failed run, its
// failed records, reprocessing one of them, cancelling a queued run, the
// console logs, and what a standard member and an outsider may see and do.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/riverqueue/river"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/consolelog"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/runs"
	"github.com/sluice-dev/sluice/internal/store"
)

// shotDir is where the run pages' screenshots go: $SLUICE_SCREENSHOTS, or
// a folder under the temporary directory that outlives the test.
func shotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SLUICE_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "sluice-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshot folder: %v", err)
	}
	return dir
}

// shoot keeps a full-page picture of the tab as dir/name.
func (b *browser) shoot(dir, name string) {
	b.t.Helper()
	shot, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, shot, 0o644); err != nil {
		b.t.Fatalf("keep the screenshot: %v", err)
	}
	b.t.Logf("screenshot: %s", p)
}

// login logs the browser in through the login form.
func (b *browser) login(base, email, password string) {
	b.t.Helper()
	b.open(base + "/login")
	b.typeInto("email", email)
	b.typeInto("password", password)
	if st := b.submit("submit"); st != http.StatusOK {
		b.t.Fatalf("log in as %s: status %d; page:\n%s", email, st, b.bodyText())
	}
	b.expectPage(base, "/")
}

// shopOrders is a tiny order API: GET /orders lists them, GET /orders/{id}
// reads one (the flow's fetch_one, for reprocessing).
type shopOrders struct {
	mu     sync.Mutex
	orders map[string]int // id → total
}

func (s *shopOrders) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if id, ok := strings.CutPrefix(r.URL.Path, "/orders/"); ok {
		total, found := s.orders[id]
		if !found {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "total": total})
		return
	}
	var list []map[string]any
	for _, id := range []string{"1", "2", "3"} {
		list = append(list, map[string]any{"id": id, "total": s.orders[id]})
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"orders": list})
}

// runsWorld is a project with a flow whose order 3 fails, and the
// owner's API client.
type runsWorld struct {
	inst             *apptest.Instance
	admin            *apptest.Client
	shop             *shopOrders
	pid, pipe, flow  string
	adminEmail, base string
}

func newRunsWorld(t *testing.T, b *browser) *runsWorld {
	t.Helper()
	inst := apptest.Start(t, apptest.Options{Args: []string{"--egress-allow", "127.0.0.0/8"}})
	w := &runsWorld{inst: inst, base: inst.URL, shop: &shopOrders{orders: map[string]int{"1": 10, "2": 20, "3": -5}}}
	srv := httptest.NewServer(http.HandlerFunc(w.shop.serve))
	t.Cleanup(srv.Close)

	// The first account comes from the setup link, in the browser.
	b.open(w.base + "/setup?token=" + inst.SetupToken(t))
	b.typeInto("email", adminEmail)
	b.typeInto("name", "Ada")
	b.typeInto("password", adminPassword)
	if st := b.submit("submit"); st != http.StatusOK {
		t.Fatalf("setup: status %d; page:\n%s", st, b.bodyText())
	}
	w.admin = inst.Login(t, adminEmail, adminPassword)

	w.pid = w.api(t, "POST", "/api/v1/projects", map[string]any{"name": "Shop"}, http.StatusCreated).String("id")
	w.api(t, "POST", w.project("/connections"), map[string]any{"name": "shop", "kind": "http",
		"settings": map[string]any{"base_url": srv.URL}}, http.StatusCreated)
	w.pipe = w.api(t, "POST", w.project("/pipes"), map[string]any{"name": "Shop orders"}, http.StatusCreated).String("id")
	w.flow = w.api(t, "POST", w.project("/pipes/"+w.pipe+"/flows"), map[string]any{"definition": map[string]any{
		"name": "orders",
		"read": map[string]any{"connection": "shop", "request": map[string]any{"method": "GET", "path": "/orders"},
			"records": ".orders[]", "fetch_one": map[string]any{"method": "GET", "path": "/orders/{{entity_id}}"}},
		"entity_id": ".id",
		"steps": []any{
			map[string]any{"fail": `if .total < 0 then "order total is negative" else empty end`},
			map[string]any{"map": "{id, total}"},
		},
	}}, http.StatusCreated).String("id")
	return w
}

func (w *runsWorld) project(suffix string) string { return "/api/v1/projects/" + w.pid + suffix }

func (w *runsWorld) page(suffix string) string { return "/projects/" + w.pid + suffix }

// api sends a request as the owner and wants status.
func (w *runsWorld) api(t *testing.T, method, path string, body any, status int) *apptest.Response {
	t.Helper()
	r := w.admin.Do(t, method, path, body)
	if r.Status != status {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.Status, status, r.Body)
	}
	return r
}

// run starts a run of the flow by hand and waits until it finished.
func (w *runsWorld) run(t *testing.T) *apptest.Response {
	t.Helper()
	id := w.api(t, "POST", w.project("/pipes/"+w.pipe+"/flows/"+w.flow+"/runs"), nil, http.StatusAccepted).String("id")
	return w.wait(t, id)
}

// wait polls the run until it finished. The deadline guards against a
// hang; it is not a timing assertion.
func (w *runsWorld) wait(t *testing.T, id string) *apptest.Response {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := w.api(t, "GET", w.project("/runs/"+id), nil, http.StatusOK)
		switch r.String("status") {
		case store.RunCompleted, store.RunPartiallyFailed, store.RunFailed, store.RunCancelled:
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s did not finish: %s", id, r.Body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// queue makes a queued run whose job waits an hour, so it stays queued.
func (w *runsWorld) queue(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	r := &store.Run{ProjectID: w.pid, FlowID: w.flow, PipeID: w.pipe, Trigger: store.TriggerManual}
	err := w.inst.App.Store.InTx(ctx, func(q *store.Q) error {
		if err := q.CreateRun(ctx, r); err != nil {
			return err
		}
		_, err := w.inst.App.Queue.InsertTx(ctx, q, runs.RunFlowArgs{RunID: r.ID}, &river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return r.ID
}

// TestRunPagesInBrowser: the owner finds a run that partly failed, opens
// it, sees the failed order, ticks it and reprocesses it once it is fixed
// at the source, landing on the new run; then cancels a queued run.
func TestRunPagesInBrowser(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	w := newRunsWorld(t, b)
	shots := shotDir(t)

	// Before any run the list explains what to do.
	if st := b.open(w.base + w.page("/runs")); st != http.StatusOK {
		t.Fatalf("runs page: status %d; page:\n%s", st, b.bodyText())
	}
	if e := b.text("runs-empty"); !strings.Contains(e, "No runs yet") {
		t.Errorf("empty runs page says %q", e)
	}
	b.expectStyled()

	parent := w.run(t)
	if parent.String("status") != store.RunPartiallyFailed {
		t.Fatalf("the run should fail on order 3 alone: %s", parent.Body)
	}
	pid := parent.String("id")

	b.open(w.base + w.page("/runs"))
	row := b.text("run-" + pid)
	for _, want := range []string{"partially_failed", "manual", "Shop orders / orders"} {
		if !strings.Contains(row, want) {
			t.Errorf("the run's row %q does not show %q", row, want)
		}
	}
	if b.has("refresh") {
		t.Error("the runs page refreshes itself although no run is queued or running")
	}
	b.shoot(shots, "runs-list.png")

	// The filters narrow the list, in the URL.
	b.do("filter by status", chromedp.SetValue(chromedp.ID("filter-status"), "completed"))
	if st := b.submit("filter-submit"); st != http.StatusOK {
		t.Fatalf("filter: status %d", st)
	}
	if got := b.path(w.base); !strings.Contains(got, "status=completed") {
		t.Errorf("the filter form went to %q", got)
	}
	if b.has("run-"+pid) || !b.has("runs-empty") {
		t.Errorf("filtering by completed still lists the partly failed run:\n%s", b.bodyText())
	}
	b.do("clear filters", chromedp.Click(chromedp.ID("filter-clear")))
	b.do("wait for the list", chromedp.WaitVisible(chromedp.ID("run-"+pid)))

	// The run's page: counters and the failed order.
	b.do("open the run", chromedp.Click(chromedp.CSS(`#run-`+pid+` a.run-link`)))
	b.do("wait for the run page", chromedp.WaitVisible(chromedp.ID("run-facts")))
	b.expectPage(w.base, w.page("/runs/"+pid))
	for id, want := range map[string]string{"run-status": "partially_failed", "run-read": "3", "run-succeeded": "2", "run-failed": "1"} {
		if got := b.text(id); got != want {
			t.Errorf("#%s shows %q, want %q", id, got, want)
		}
	}
	fails := b.text("failures-table")
	if !strings.Contains(fails, "3") || !strings.Contains(fails, "order total is negative") {
		t.Errorf("the failed records table shows %q, want order 3 and its error", fails)
	}
	if !b.has("delete-run") || !b.has("reprocess-all") || b.has("cancel-run") {
		t.Errorf("owner on a finished run: delete %v, reprocess all %v, cancel %v; want delete and reprocess, no cancel",
			b.has("delete-run"), b.has("reprocess-all"), b.has("cancel-run"))
	}
	b.expectStyled()
	b.shoot(shots, "run-detail.png")

	// On a phone the page does not scroll sideways: wide tables scroll
	// inside their own box.
	b.do("phone viewport", chromedp.EmulateViewport(390, 844))
	for _, p := range []string{"/runs/" + pid, "/runs"} {
		b.open(w.base + w.page(p))
		if o := b.eval("overflow", `String(document.documentElement.scrollWidth > window.innerWidth)`); o != "false" {
			t.Errorf("%s on a 390px screen scrolls sideways", p)
		}
	}
	b.shoot(shots, "runs-list-phone.png")
	b.do("laptop viewport", chromedp.EmulateViewport(1024, 720))
	b.open(w.base + w.page("/runs/"+pid))

	// Nothing ticked: the page says what to do and starts nothing.
	if st := b.submit("reprocess-selected"); st != http.StatusUnprocessableEntity {
		t.Errorf("reprocess with nothing ticked: status %d, want 422", st)
	}
	if e := b.text("error"); !strings.Contains(e, "Tick") {
		t.Errorf("reprocess with nothing ticked says %q", e)
	}

	// Fix order 3 at the source, tick it and reprocess it.
	w.shop.mu.Lock()
	w.shop.orders["3"] = 30
	w.shop.mu.Unlock()
	b.do("tick order 3", chromedp.Click(chromedp.CSS(`input[name="entity_id"][value="3"]`)))
	if st := b.submit("reprocess-selected"); st != http.StatusOK {
		t.Fatalf("reprocess: status %d; page:\n%s", st, b.bodyText())
	}
	child := strings.TrimPrefix(b.path(w.base), w.page("/runs/"))
	child, _, _ = strings.Cut(child, "?")
	if child == "" || child == pid || strings.Contains(child, "/") {
		t.Fatalf("after reprocessing the browser is on %q, want the new run's page", b.path(w.base))
	}
	b.expectPage(w.base, w.page("/runs/"+child+"?notice=reprocess"))
	if n := b.text("notice"); !strings.Contains(n, "Reprocessing started") {
		t.Errorf("the new run's notice says %q", n)
	}
	if got := b.text("run-trigger"); !strings.HasPrefix(got, "reprocess") {
		t.Errorf("the new run's trigger is %q", got)
	}
	if got := b.eval("parent link", `document.getElementById('run-parent').getAttribute('href')`); got != w.page("/runs/"+pid) {
		t.Errorf("the new run links its parent as %q", got)
	}
	if r := w.wait(t, child); r.String("status") != store.RunCompleted || r.String("parent_run_id") != pid {
		t.Errorf("the reprocess run ended %s", r.Body)
	}
	b.open(w.base + w.page("/runs/"+child))
	if got := b.text("run-succeeded"); got != "1" {
		t.Errorf("the reprocess run shows %q succeeded, want 1", got)
	}
	// The parent's failure now names the run that reprocessed it, and
	// nothing is left to reprocess.
	b.open(w.base + w.page("/runs/"+pid))
	if !strings.Contains(b.text("failures-table"), child) || b.has("reprocess-all") {
		t.Errorf("after reprocessing, the parent's failures show:\n%s", b.bodyText())
	}

	// A queued run: the pages refresh themselves, and it can be cancelled.
	queued := w.queue(t)
	b.open(w.base + w.page("/runs"))
	if !b.has("refresh") || !b.has("runs-live") {
		t.Error("the runs page does not refresh itself while a run is queued")
	}
	b.open(w.base + w.page("/runs/"+queued))
	if !b.has("refresh") || !b.has("cancel-run") {
		t.Fatalf("a queued run's page: refresh %v, cancel %v", b.has("refresh"), b.has("cancel-run"))
	}
	if st := b.submit("cancel-run"); st != http.StatusOK {
		t.Fatalf("cancel: status %d; page:\n%s", st, b.bodyText())
	}
	b.expectPage(w.base, w.page("/runs/"+queued+"?notice=cancelled"))
	if got := b.text("run-status"); got != store.RunCancelled || b.has("refresh") || b.has("cancel-run") {
		t.Errorf("after cancelling: status %q, refresh %v, cancel button %v", got, b.has("refresh"), b.has("cancel-run"))
	}

	// Deleting a run goes back to the list, without it.
	b.open(w.base + w.page("/runs/"+queued))
	if st := b.submit("delete-run"); st != http.StatusOK {
		t.Fatalf("delete: status %d; page:\n%s", st, b.bodyText())
	}
	b.expectPage(w.base, w.page("/runs?notice=deleted"))
	if b.has("run-" + queued) {
		t.Error("the deleted run is still listed")
	}
	w.api(t, "GET", w.project("/runs/"+queued), nil, http.StatusNotFound)
}

// TestConsoleLogPagesInBrowser: the empty state says how to turn console
// logs on; with one on, a run's log is listed, Download sends the browser
// to a working link (an audit event), and Delete removes it.
func TestConsoleLogPagesInBrowser(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	w := newRunsWorld(t, b)

	b.open(w.base + w.page("/console-logs"))
	if e := b.text("consolelogs-empty"); !strings.Contains(e, "PATCH /api/v1/projects/"+w.pid+"/pipes/") || !strings.Contains(e, "console_log") {
		t.Errorf("the empty console-logs page says %q, want how to turn a pipe's console log on", e)
	}
	b.expectStyled()

	w.api(t, "PATCH", w.project("/pipes/"+w.pipe), map[string]any{"console_log": map[string]any{"enabled": true,
		"capture": []any{consolelog.KindMethodURL, consolelog.KindRecords}}}, http.StatusOK)
	run := w.run(t).String("id")
	logs := w.api(t, "GET", w.project("/console-logs"), nil, http.StatusOK)
	list, _ := logs.Get("console_logs").([]any)
	if len(list) != 1 {
		t.Fatalf("console logs after a run with the log on: %s", logs.Body)
	}
	lid, _ := list[0].(map[string]any)["id"].(string)

	b.open(w.base + w.page("/console-logs"))
	row := b.text("log-" + lid)
	if !strings.Contains(row, run[:8]) || !strings.Contains(row, "Shop orders / orders") {
		t.Errorf("the log's row says %q, want its run and flow", row)
	}
	if href := b.eval("run link", `document.querySelector('#log-`+lid+` a.run-link').getAttribute('href')`); href != w.page("/runs/"+run) {
		t.Errorf("the log's run link goes to %q", href)
	}
	if !b.has("download-"+lid) || !b.has("delete-"+lid) {
		t.Fatal("the owner sees no Download or Delete button")
	}
	b.shoot(shotDir(t), "console-logs.png")

	// Download through the page's form, as the browser posts it (the
	// browser would save the file rather than show it): a redirect to a
	// link that serves the gzip log, and an audit event.
	form := w.admin.Form(t, w.page("/console-logs/"+lid+"/download"), nil)
	loc := form.Header.Get("Location")
	if form.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "/downloads/") {
		t.Fatalf("download: status %d, Location %q", form.Status, loc)
	}
	if got := w.admin.Do(t, "GET", loc, nil); got.Status != http.StatusOK || got.Header.Get("Content-Type") != "application/gzip" {
		t.Errorf("the download link answers %d %q", got.Status, got.Header.Get("Content-Type"))
	}
	ev := w.api(t, "GET", w.project("/audit?action=console_log.link"), nil, http.StatusOK)
	if evs, _ := ev.Get("events").([]any); len(evs) != 1 {
		t.Errorf("console_log.link events: %s", ev.Body)
	}

	if st := b.submit("delete-" + lid); st != http.StatusOK {
		t.Fatalf("delete the log: status %d; page:\n%s", st, b.bodyText())
	}
	b.expectPage(w.base, w.page("/console-logs?notice=deleted"))
	if b.has("log-"+lid) || !b.has("consolelogs-empty") {
		t.Errorf("after deleting, the page shows:\n%s", b.bodyText())
	}
	ev = w.api(t, "GET", w.project("/audit?action=console_log.delete"), nil, http.StatusOK)
	if evs, _ := ev.Get("events").([]any); len(evs) != 1 {
		t.Errorf("console_log.delete events: %s", ev.Body)
	}
}

// TestRunPagesByRoleInBrowser: a standard member sees the run and may
// reprocess, but sees no Delete and a forged delete (with their own valid
// CSRF token) is refused with 403; an outsider gets 404.
func TestRunPagesByRoleInBrowser(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	w := newRunsWorld(t, b)
	run := w.run(t).String("id")
	lid := ""
	{
		// A console log to try Delete on.
		ctx := context.Background()
		r, err := w.inst.App.Store.Reader().RunByID(ctx, w.pid, run)
		if err != nil {
			t.Fatal(err)
		}
		capt := w.inst.App.ConsoleLogs.Begin(r, consolelog.Settings{Enabled: true, Capture: []string{consolelog.KindRecords}})
		capt.Step(engine.StepRecord{Step: "read", EntityID: "1", Value: map[string]any{"id": 1}})
		l, err := capt.Finish(ctx)
		if err != nil || l == nil {
			t.Fatalf("store a console log: %v", err)
		}
		lid = l.ID
	}

	const pw = "Tidal-Lantern-Quarry-42"
	std := w.inst.CreateUser(t, w.admin, "sam@example.com", pw, false)
	w.api(t, "POST", w.project("/members"), map[string]any{"user_id": std, "role": "standard"}, http.StatusCreated)
	w.inst.CreateUser(t, w.admin, "otto@example.com", pw, false)

	// Log the owner out of the browser and the standard member in.
	b.submit("logout")
	b.login(w.base, "sam@example.com", pw)

	if st := b.open(w.base + w.page("/runs/"+run)); st != http.StatusOK {
		t.Fatalf("standard member opens the run: status %d", st)
	}
	if b.text("role") != "standard" {
		t.Errorf("the project nav shows role %q", b.text("role"))
	}
	if b.has("delete-run") {
		t.Error("a standard member sees the Delete button")
	}
	if !b.has("reprocess-selected") {
		t.Error("a standard member, who may reprocess, sees no reprocess form")
	}
	b.open(w.base + w.page("/console-logs"))
	if b.has("delete-"+lid) || !b.has("download-"+lid) {
		t.Errorf("standard member's console logs: delete %v, download %v; want download only", b.has("delete-"+lid), b.has("download-"+lid))
	}

	// Forged posts: the page's own CSRF token, a form the page never
	// offered. The browser sends them like any form.
	forge := func(action string) int64 {
		t.Helper()
		js := fmt.Sprintf(`(function () {
  var f = document.createElement('form'); f.method = 'post'; f.action = %q;
  var i = document.createElement('input'); i.type = 'hidden'; i.name = 'csrf_token';
  i.value = document.querySelector('input[name="csrf_token"]').value;
  f.appendChild(i); document.body.appendChild(f); f.submit();
})()`, action)
		resp, err := chromedp.RunResponse(b.ctx, chromedp.Evaluate[chromedp.Void](js))
		if err != nil {
			t.Fatalf("forged post to %s: %v", action, err)
		}
		return resp.Status
	}
	if st := forge(w.page("/runs/" + run + "/delete")); st != http.StatusForbidden {
		t.Errorf("a standard member's forged run delete: status %d, want 403", st)
	}
	if e := b.text("error"); !strings.Contains(e, "standard") {
		t.Errorf("the refusal page says %q", e)
	}
	w.api(t, "GET", w.project("/runs/"+run), nil, http.StatusOK)
	b.open(w.base + w.page("/console-logs"))
	if st := forge(w.page("/console-logs/" + lid + "/delete")); st != http.StatusForbidden {
		t.Errorf("a standard member's forged console-log delete: status %d, want 403", st)
	}
	if l := w.api(t, "GET", w.project("/console-logs"), nil, http.StatusOK); !strings.Contains(string(l.Body), lid) {
		t.Error("the forged delete removed the console log")
	}

	// An outsider: every run page is 404, like a project that does not exist.
	b.open(w.base + "/")
	b.submit("logout")
	b.login(w.base, "otto@example.com", pw)
	for _, p := range []string{"/runs", "/runs/" + run, "/console-logs"} {
		if st := b.open(w.base + w.page(p)); st != http.StatusNotFound {
			t.Errorf("outsider opens %s: status %d, want 404", p, st)
		}
		if b.has("runs-table") || b.has("run-facts") || strings.Contains(b.bodyText(), "Shop") {
			t.Errorf("outsider's page %s shows the project:\n%s", p, b.bodyText())
		}
	}
}
