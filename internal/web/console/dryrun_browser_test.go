package console_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/app/apptest"
)

// TestDryRunInBrowser: from a flow's page, a user tries the flow on sample
// records and sees what each step made of each record, a refused record
// with its stage and error, and what the write would send; bad samples
// are refused next to the form; nothing runs.
func TestDryRunInBrowser(t *testing.T) {
	t.Parallel()
	inst, b, api := adminInBrowser(t, apptest.Options{})
	base := inst.URL
	pid, pipe := newPipe(t, api, "orders")
	r := api.Do(t, "POST", "/api/v1/projects/"+pid+"/pipes/"+pipe+"/flows", map[string]any{"definition": goodFlow})
	if r.Status != http.StatusCreated {
		t.Fatalf("create flow: %d %s", r.Status, r.Body)
	}
	flowURL := "/projects/" + pid + "/pipes/" + pipe + "/flows/" + r.String("id")

	b.open(base + flowURL)
	// The mapping view: each target field of the map step beside the jq
	// that fills it.
	mapping := b.eval("mapping", `Array.from(document.querySelectorAll("table.mapping tbody tr")).map(function (r) { return Array.from(r.cells).map(function (c) { return c.textContent.trim() }).join(" ") }).join("|")`)
	if mapping != "id .id|total .total" {
		t.Errorf("mapping view %q, want the map step's two fields and their expressions", mapping)
	}
	b.typeInto("dryrun-records", `[{"id": 1, "total": 5, "note": "keep"}, {"id": 2, "total": 500}]`)
	if st := b.submit("dryrun-submit"); st != http.StatusOK {
		t.Fatalf("dry run: status %d; page:\n%s", st, b.bodyText())
	}
	if got := b.text("dryrun-counts"); !strings.Contains(got, "1 succeeded, 1 failed") {
		t.Errorf("counts %q", got)
	}
	first, second := b.text("dry-record-1"), b.text("dry-record-2")
	if !strings.Contains(first, "steps[1]") || !strings.Contains(first, `"total": 5`) || !strings.Contains(first, `"note": "keep"`) {
		t.Errorf("record 1 shows:\n%s", first)
	}
	// The map step shows each target field with what it got.
	if got := b.eval("record 1 mapping", `Array.from(document.querySelectorAll("#dry-record-1 table.mapping tbody tr")).map(function (r) { return Array.from(r.cells).map(function (c) { return c.textContent.trim() }).join(" ") }).join("|")`); got != "id .id 1|total .total 5" {
		t.Errorf("record 1's mapping preview %q", got)
	}
	if !strings.Contains(first, "Would send") || !strings.Contains(second, "steps[0].fail: too big") {
		t.Errorf("record 1 write or record 2 failure missing:\n%s\n---\n%s", first, second)
	}
	b.screenshot("dry-run")

	// Bad samples: refused where they were typed, and the text is kept.
	b.typeInto("dryrun-records", `{"id": 1}`)
	if st := b.submit("dryrun-submit"); st != http.StatusUnprocessableEntity {
		t.Errorf("bad samples: status %d, want 422", st)
	}
	if !b.has("dryrun-problems") || !strings.Contains(b.eval("records", `document.getElementById("dryrun-records").value`), `{"id": 1}`) {
		t.Errorf("bad samples: page %s", b.bodyText())
	}
	// Nothing ran.
	if runs := api.Do(t, "GET", "/api/v1/projects/"+pid+"/runs", nil).Get("runs").([]any); len(runs) != 0 {
		t.Errorf("a dry run made %d runs", len(runs))
	}
}

// TestConsoleLogSettingsInBrowser: the owner turns a pipe's console log on
// from the pipes page, with what to capture and a sensitive path, sees it
// on until its switch-off, and a bad path is refused with its problem.
func TestConsoleLogSettingsInBrowser(t *testing.T) {
	t.Parallel()
	inst, b, api := adminInBrowser(t, apptest.Options{})
	base := inst.URL
	pid, pipe := newPipe(t, api, "orders")

	b.open(base + "/projects/" + pid + "/pipes")
	if got := b.text("console-log-state-" + pipe); !strings.Contains(got, "off") {
		t.Errorf("state before: %q", got)
	}
	b.eval("open the settings", `document.querySelector("#console-log-form-`+pipe+`").closest("details").open = true; "ok"`)
	b.eval("tick", `document.getElementById("cl-enabled-`+pipe+`").checked = true;
		document.querySelectorAll('#console-log-form-`+pipe+` input[name=capture]').forEach(function (e) { e.checked = e.value === "records" || e.value === "response" }); "ok"`)
	b.typeInto("cl-sensitive-"+pipe, "customer.email")
	b.typeInto("cl-hours-"+pipe, "2")
	if st := b.submit("cl-save-" + pipe); st != http.StatusOK {
		t.Fatalf("save: status %d; page:\n%s", st, b.bodyText())
	}
	got := b.text("console-log-state-" + pipe)
	if !strings.Contains(got, "on") || !strings.Contains(got, "until") || !strings.Contains(got, "records") || !strings.Contains(got, "response") {
		t.Errorf("state after: %q", got)
	}
	cl := api.Do(t, "GET", "/api/v1/projects/"+pid+"/pipes/"+pipe, nil)
	if cl.Get("console_log.enabled") != true || cl.Get("console_log.auto_off_hours") != float64(2) || fmt.Sprint(cl.Get("console_log.sensitive")) != "[customer.email]" {
		t.Errorf("settings stored: %s", cl.Body)
	}
	b.screenshot("console-log-settings")

	// A path that is not one: refused, nothing changed.
	b.eval("open the settings", `document.querySelector("#console-log-form-`+pipe+`").closest("details").open = true; "ok"`)
	b.typeInto("cl-sensitive-"+pipe, "not a path!")
	if st := b.submit("cl-save-" + pipe); st != http.StatusUnprocessableEntity {
		t.Errorf("bad path: status %d, want 422", st)
	}
	if !strings.Contains(b.bodyText(), "console_log.sensitive[0]") {
		t.Errorf("bad path: the page does not name the field:\n%s", b.bodyText())
	}
	if again := api.Do(t, "GET", "/api/v1/projects/"+pid+"/pipes/"+pipe, nil); fmt.Sprint(again.Get("console_log.sensitive")) != "[customer.email]" {
		t.Errorf("a refused save changed the settings: %s", again.Body)
	}
}

// TestFlowVersionsInBrowser: a flow saved twice; version 1's page shows
// its definition and the lines the current version changed, and restoring
// it makes a third version with version 1's definition.
func TestFlowVersionsInBrowser(t *testing.T) {
	t.Parallel()
	inst, b, api := adminInBrowser(t, apptest.Options{})
	base := inst.URL
	pid, pipe := newPipe(t, api, "orders")
	f := api.Do(t, "POST", "/api/v1/projects/"+pid+"/pipes/"+pipe+"/flows", map[string]any{"definition": goodFlow}).String("id")
	second := strings.Replace(goodFlow, "'{id, total}'", "'{id, total, checked: true}'", 1)
	if r := api.Do(t, "PUT", "/api/v1/projects/"+pid+"/pipes/"+pipe+"/flows/"+f, map[string]any{"definition": second}); r.Status != http.StatusOK {
		t.Fatalf("save v2: %d %s", r.Status, r.Body)
	}
	flowURL := "/projects/" + pid + "/pipes/" + pipe + "/flows/" + f

	b.open(base + flowURL + "/versions/1")
	diff := b.eval("diff", `Array.from(document.querySelectorAll("#version-diff .diff-add, #version-diff .diff-del")).map(function (e) { return e.className + " " + e.textContent }).join("\n")`)
	if !strings.Contains(diff, "diff-del - ") || !strings.Contains(diff, "checked: true") {
		t.Errorf("version 1's diff against version 2:\n%s", diff)
	}
	b.screenshot("flow-version")
	if st := b.submit("restore-version"); st != http.StatusOK {
		t.Fatalf("restore: status %d; page:\n%s", st, b.bodyText())
	}
	r := api.Do(t, "GET", "/api/v1/projects/"+pid+"/pipes/"+pipe+"/flows/"+f, nil)
	if r.Get("version") != float64(3) || strings.Contains(string(r.Body), "checked") {
		t.Errorf("after restoring version 1: %s", r.Body)
	}
	b.open(base + flowURL + "/versions/1")
	if !b.has("version-same") {
		t.Errorf("version 1 against the restored current one: %s", b.bodyText())
	}
}

// TestDashboardNextFireInBrowser: a flow that is on with a daily schedule
// is listed on the dashboard with when it fires next.
func TestDashboardNextFireInBrowser(t *testing.T) {
	t.Parallel()
	inst, b, api := adminInBrowser(t, apptest.Options{})
	base := inst.URL
	pid, pipe := newPipe(t, api, "orders")
	scheduled := strings.Replace(goodFlow, "entity_id: .id\n", "entity_id: .id\ntrigger:\n  schedules:\n    - {cron: '0 3 * * *', timezone: UTC}\n", 1)
	r := api.Do(t, "POST", "/api/v1/projects/"+pid+"/pipes/"+pipe+"/flows", map[string]any{"definition": scheduled})
	if r.Status != http.StatusCreated {
		t.Fatalf("create flow: %d %s", r.Status, r.Body)
	}
	if e := api.Do(t, "POST", "/api/v1/projects/"+pid+"/pipes/"+pipe+"/flows/"+r.String("id")+"/enable", nil); e.Status != http.StatusOK {
		t.Fatalf("enable: %d %s", e.Status, e.Body)
	}
	b.open(base + "/projects/" + pid)
	got := b.text("scheduled-flows")
	now := inst.Clock.Now().UTC()
	next := time.Date(now.Year(), now.Month(), now.Day(), 3, 0, 0, 0, time.UTC)
	if !next.After(now) {
		next = next.AddDate(0, 0, 1)
	}
	if want := "next " + next.Format("2006-01-02 15:04 UTC"); !strings.Contains(got, want) {
		t.Errorf("dashboard's flows due next %q, want %q", got, want)
	}
}
