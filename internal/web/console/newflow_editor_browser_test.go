package console_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sluice-dev/sluice/internal/app/apptest"
)

// TestNewFlowProblemsByLineInBrowser: creating a flow from the pipes page
// with two mistakes shows what the flow page shows after a refused save:
// each problem under its line in the source view, the same lines marked in
// the editor's gutter, and problem links that put the caret there. The
// other pipe's form keeps its own editor and ids; the fixed text creates
// the flow and lands on its page.
func TestNewFlowProblemsByLineInBrowser(t *testing.T) {
	t.Parallel()
	inst, b, api := adminInBrowser(t, apptest.Options{})
	base := inst.URL
	shots := shotsDir(t)
	pid, pipe := newPipe(t, api, "orders")
	r := api.Do(t, "POST", "/api/v1/projects/"+pid+"/pipes", map[string]any{"name": "customers"})
	if r.Status != http.StatusCreated {
		t.Fatalf("create the second pipe: %d %s", r.Status, r.Body)
	}
	other := r.String("id")
	pipesPath := "/projects/" + pid + "/pipes"
	b.do("laptop viewport", chromedp.EmulateViewport(1280, 800))
	b.open(base + pipesPath)

	// Before any create, each form has its own editor with a gutter and
	// no marks.
	for _, p := range []string{pipe, other} {
		if n := b.count("#definition-" + p + "-gutter .gutter-line"); n == 0 {
			t.Errorf("the new-flow form of pipe %s has no gutter", p)
		}
	}
	if n := b.count(".gutter-mark, #flow-source, #flow-problems, #definition"); n != 0 {
		t.Errorf("the pipes page shows %d problem elements before any create", n)
	}

	// Create a flow with two problems (lines 4 and 7) in the first pipe.
	b.do("open the new-flow form", chromedp.Click(chromedp.CSS("#pipe-"+pipe+" details summary")))
	lit, _ := json.Marshal(editorBadFlow)
	b.do("paste the definition", chromedp.Evaluate[chromedp.Void](`(function () { var a = document.getElementById("definition-`+pipe+`"); a.value = `+string(lit)+
		`; a.dispatchEvent(new Event("input", { bubbles: true })); })()`))
	if st := b.submitQuery("#new-flow-" + pipe + " button.create-flow"); st != http.StatusUnprocessableEntity {
		t.Fatalf("create with two problems: status %d, want 422; page:\n%s", st, b.bodyText())
	}
	refused := b.path(base) // the form's action: the refused page answers the post
	if v := b.eval("kept text", `document.getElementById("definition").value`); v != editorBadFlow {
		t.Fatalf("the refused text was not kept as typed:\n%q", v)
	}
	if in := b.eval("form", `document.getElementById("definition").closest("form").id`); in != "new-flow-"+pipe {
		t.Errorf("the editor with problems is in form %q, want new-flow-%s", in, pipe)
	}
	if dup := b.eval("duplicate ids", `(function () { var seen = {}, dup = []; document.querySelectorAll("[id]").forEach(function (e) { if (seen[e.id]) { dup.push(e.id) } seen[e.id] = true }); return dup.join(",") })()`); dup != "" {
		t.Errorf("the pipes page repeats the ids %s", dup)
	}

	// The source view, under the form that was sent, marks exactly lines
	// 4 and 7 with their messages.
	if in := b.eval("source view", `document.getElementById("flow-source").closest("section.pipe").id`); in != "pipe-"+pipe {
		t.Errorf("the source view is in %q, want under pipe %s's form", in, pipe)
	}
	expectBadFlowProblems(t, b)
	// The other pipe's form has a gutter, with no mark.
	if n := b.count("#definition-" + other + "-gutter .gutter-line"); n == 0 || b.count("#definition-"+other+"-gutter .gutter-mark") != 0 {
		t.Errorf("the other pipe's editor has %d gutter lines and %d marks, want lines and no marks", n, b.count("#definition-"+other+"-gutter .gutter-mark"))
	}
	b.shot(shots, "new-flow-problems.png")

	// A problem link puts the caret at the problem's line and column.
	caret := func() (string, int) {
		t.Helper()
		focus := b.eval("focus", `document.activeElement ? document.activeElement.id : ""`)
		at, _ := strconv.Atoi(b.eval("caret", `String(document.getElementById("definition").selectionStart)`))
		return focus, at
	}
	b.do("click the cron problem", chromedp.Click(chromedp.CSS(`#flow-problems a.problem-link[data-line="7"]`)))
	if focus, at := caret(); focus != "definition" || at != placeOf(editorBadFlow, 7, 22) {
		t.Errorf("after a click on the line-7 problem the focus is on %q with the caret at %d, want #definition at %d (line 7, column 22)", focus, at, placeOf(editorBadFlow, 7, 22))
	}
	b.do("click Edit line 4 in the source view", chromedp.Click(chromedp.CSS(`#line-4 a.problem-link`)))
	if focus, at := caret(); focus != "definition" || at != placeOf(editorBadFlow, 4, 1) {
		t.Errorf("after a click on the source view's line-4 link the focus is on %q with the caret at %d, want #definition at %d", focus, at, placeOf(editorBadFlow, 4, 1))
	}
	if p := b.path(base); p != refused {
		t.Errorf("following a problem link with script on changed the address to %q", p)
	}

	// The fixed text creates the flow and lands on its page.
	setDefinition(b, goodFlow)
	if st := b.submitQuery("#new-flow-" + pipe + " button.create-flow"); st != http.StatusOK {
		t.Fatalf("create the fixed flow: status %d; page:\n%s", st, b.bodyText())
	}
	if !regexp.MustCompile(`^/projects/` + pid + `/pipes/` + pipe + `/flows/[^/?]+\?notice=created$`).MatchString(b.path(base)) {
		t.Fatalf("after the fixed create the browser is on %q, want the new flow's page", b.path(base))
	}
	if name := b.text("flow-name"); name != "orders to file" {
		t.Errorf("the new flow's page is titled %q", name)
	}
	if n := b.count("#flow-problems, #flow-source, .gutter-mark"); n != 0 {
		t.Errorf("the new flow's page shows %d problem elements", n)
	}
	b.checkClean()
}
