package console_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluice-dev/sluice/internal/app/apptest"
)

// journeyFlow reads orders from the shop connection (one at a time for a
// reprocess), refuses an order without a quantity, and maps the rest.
const journeyFlow = `name: shop orders
read:
  connection: shop
  request: {method: GET, path: /orders}
  records: .data[]
  fetch_one: {method: GET, path: "/orders/{{entity_id}}"}
entity_id: .id
steps:
  - fail: 'if .qty == null then "order has no quantity" else empty end'
  - map: '{id, qty}'
`

// TestWholeJourneyInBrowser is issue 8's journey in one browser session,
// through the pages alone: setup, a project, a connection and its test, a
// pipe and a flow, a dry run, the console log on, a run with a failed
// record, why it failed, the source fixed and the record reprocessed, the
// run's console log downloaded and deleted, and a colleague invited as an
// administrator who chooses a password through the link and sees the runs.
func TestWholeJourneyInBrowser(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	orders := map[int]any{1: 2, 2: nil, 3: 5} // order 2 has no quantity
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		order := func(id int) map[string]any { return map[string]any{"id": id, "qty": orders[id]} }
		if id, ok := strings.CutPrefix(r.URL.Path, "/v1/orders/"); ok {
			n, _ := strconv.Atoi(id)
			if _, ok := orders[n]; !ok {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			_ = json.NewEncoder(w).Encode(order(n))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"data": []any{order(1), order(2), order(3)}})
	}))
	t.Cleanup(shop.Close)

	inst := apptest.Start(t, apptest.Options{RealClock: true, Args: []string{"--egress-allow", "127.0.0.0/8"}})
	b := newBrowser(t)
	base := inst.URL
	shots := shotsDir(t)
	setupInBrowser(t, b, inst)

	// A project.
	b.open(base + "/projects")
	b.typeInto("project-name", "Shop ↔ ERP")
	if st := b.submit("create-project"); st != http.StatusOK {
		t.Fatalf("create project: %d\n%s", st, b.bodyText())
	}
	m := regexp.MustCompile(`^/projects/([^/?]+)`).FindStringSubmatch(b.path(base))
	if m == nil {
		t.Fatalf("after creating the project: %q", b.path(base))
	}
	pid := m[1]

	// A connection, tested.
	b.open(base + "/projects/" + pid + "/connections")
	b.typeInto("conn-name", "shop")
	b.typeInto("f-settings-base_url", shop.URL+"/v1")
	if st := b.submit("create-connection"); st != http.StatusOK {
		t.Fatalf("create connection: %d\n%s", st, b.bodyText())
	}
	if st := b.submit("test-connection"); st != http.StatusOK || b.text("diag-result") != "ok" {
		t.Fatalf("test connection: %d\n%s", st, b.bodyText())
	}

	// A pipe and a flow.
	b.open(base + "/projects/" + pid + "/pipes")
	b.typeInto("pipe-name", "orders")
	if st := b.submit("create-pipe"); st != http.StatusOK {
		t.Fatalf("create pipe: %d\n%s", st, b.bodyText())
	}
	b.do("open the new-flow form", chromedp.Click(chromedp.CSS("section.pipe summary")))
	def, _ := json.Marshal(journeyFlow) // a JavaScript string literal
	b.eval("definition", `document.querySelector("section.pipe form.editor textarea").value = `+string(def)+`; "ok"`)
	if st := b.submitQuery("section.pipe button.create-flow"); st != http.StatusOK {
		t.Fatalf("create flow: %d\n%s", st, b.bodyText())
	}
	m = regexp.MustCompile(`^(/projects/` + pid + `/pipes/([^/]+)/flows/[^/?]+)`).FindStringSubmatch(b.path(base))
	if m == nil {
		t.Fatalf("after creating the flow: %q", b.path(base))
	}
	flowPath, pipe := m[1], m[2]

	// A dry run: one sample passes, one is refused, nothing runs.
	b.typeInto("dryrun-records", `[{"id": 7, "qty": 1}, {"id": 8}]`)
	if st := b.submit("dryrun-submit"); st != http.StatusOK || !strings.Contains(b.text("dryrun-counts"), "1 succeeded, 1 failed") {
		t.Fatalf("dry run: %d\n%s", st, b.bodyText())
	}

	// The console log on for the pipe, capturing records and requests.
	b.open(base + "/projects/" + pid + "/pipes")
	b.eval("console-log settings", `document.querySelector("#console-log-form-`+pipe+`").closest("details").open = true;
		document.getElementById("cl-enabled-`+pipe+`").checked = true;
		document.querySelectorAll('#console-log-form-`+pipe+` input[name=capture]').forEach(function (e) { e.checked = e.value === "records" || e.value === "method_url" }); "ok"`)
	if st := b.submit("cl-save-" + pipe); st != http.StatusOK || !strings.Contains(b.text("console-log-state-"+pipe), "on") {
		t.Fatalf("console log on: %d\n%s", st, b.bodyText())
	}

	// Run now: one record fails, and the run page says why.
	b.open(base + flowPath)
	if st := b.submit("run-now"); st != http.StatusOK {
		t.Fatalf("run now: %d\n%s", st, b.bodyText())
	}
	runPath := b.path(base)
	waitFinishedPage(t, b, base+runPath)
	if got := b.text("run-status"); got != "partially_failed" {
		t.Fatalf("run status %q\n%s", got, b.bodyText())
	}
	if body := b.bodyText(); !strings.Contains(body, "order has no quantity") {
		t.Fatalf("the run page does not say why order 2 failed:\n%s", body)
	}
	b.shot(shots, "journey-run.png")

	// Fixed at the source, the failed record is reprocessed.
	mu.Lock()
	orders[2] = 9
	mu.Unlock()
	if st := b.submit("reprocess-all"); st != http.StatusOK {
		t.Fatalf("reprocess: %d\n%s", st, b.bodyText())
	}
	waitFinishedPage(t, b, base+b.path(base))
	if got := b.text("run-status"); got != "completed" || !b.has("run-parent") {
		t.Fatalf("reprocess run %q\n%s", got, b.bodyText())
	}

	// The first run's console log: listed, downloadable (the form posts
	// to a one-time link), then deleted.
	b.open(base + "/projects/" + pid + "/console-logs")
	ids := b.eval("logs", `Array.from(document.querySelectorAll("#consolelogs-table tr[id^=log-]")).map(function (r) { return r.id.slice(4) }).join(",")`)
	if ids == "" {
		t.Fatalf("no console log listed:\n%s", b.bodyText())
	}
	first := strings.Split(ids, ",")[0]
	if !b.has("download-" + first) {
		t.Fatalf("no download button for log %s", first)
	}
	// Download: the browser saves the gzipped NDJSON log, which holds the
	// records the run read.
	zr, err := gzip.NewReader(bytes.NewReader(b.download("download-" + first)))
	if err != nil {
		t.Fatalf("the downloaded log is not gzip: %v", err)
	}
	text, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("read the downloaded log: %v", err)
	}
	if lines := strings.Split(strings.TrimSpace(string(text)), "\n"); len(lines) < 2 || !json.Valid([]byte(lines[0])) || !strings.Contains(string(text), `"qty"`) {
		t.Fatalf("the downloaded log holds no NDJSON lines with the records:\n%.500s", text)
	}
	b.shot(shots, "journey-console-logs.png")
	if st := b.submit("delete-" + first); st != http.StatusOK || b.has("log-"+first) {
		t.Errorf("delete the log: %d\n%s", st, b.bodyText())
	}

	// A colleague, invited from the members page as an administrator,
	// chooses a password through the link in a browser of their own and
	// sees the project's runs with an administrator's controls.
	b.open(base + "/projects/" + pid + "/members")
	b.typeInto("invite-email", "ops@example.test")
	b.do("choose admin", chromedp.SetValue(chromedp.ID("invite-role"), "admin"))
	if st := b.submit("invite-submit"); st != http.StatusCreated {
		t.Fatalf("invite: %d\n%s", st, b.bodyText())
	}
	link := b.eval("the link", `document.getElementById("invite-url").value`)
	c := newBrowser(t)
	c.open(link)
	c.typeInto("password", "Amber-Harbour-Kettle-58")
	c.typeInto("password2", "Amber-Harbour-Kettle-58")
	if st := c.submit("submit"); st != http.StatusOK {
		t.Fatalf("accept the invitation: %d\n%s", st, c.bodyText())
	}
	c.open(base + "/projects/" + pid + "/runs")
	if role := c.text("role"); role != "admin" || !c.has("nav-settings") || !strings.Contains(c.text("runs-table"), "orders") {
		t.Fatalf("the colleague's runs page (role %q):\n%s", role, c.bodyText())
	}
}

// waitFinishedPage reloads a run's page until the run has ended.
func waitFinishedPage(t *testing.T, b *browser, url string) {
	t.Helper()
	for range 200 {
		b.open(url)
		if s := b.text("run-status"); s != "queued" && s != "running" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the run at %s never finished", url)
}
