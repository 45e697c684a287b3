package console_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/sluice-dev/sluice/internal/app/apptest"
)

// editorBadFlow has two problems the flow schema finds: an unknown key on
// line 4 and a cron expression it cannot read on line 7 (column 22, where
// the expression starts). The long map step overflows a phone's width and
// the comments after it are far from both problems.
var editorBadFlow = "name: orders to file\n" +
	"read:\n" +
	"  file: {path: in/orders.ndjson, format: ndjson}\n" +
	"colour: blue\n" +
	"entity_id: .id\n" +
	"trigger:\n" +
	"  schedules: [{cron: 'every tuesday'}]\n" +
	"steps:\n" +
	"  - map: '{id, total, note: \"" + strings.Repeat("a long constant that does not fit a phone ", 3) + "\"}'\n" +
	strings.Repeat("# a comment far from the problems\n", 30)

// expectBadFlowProblems checks a page that refused editorBadFlow: the
// source view marks exactly lines 4 and 7, each with its code and its
// message under it; the problem list links to both lines; the gutter of
// #definition marks both with a "!" (not colour alone).
func expectBadFlowProblems(t *testing.T, b *browser) {
	t.Helper()
	if got := b.eval("marked lines", `Array.from(document.querySelectorAll("#flow-source tr.has-problem")).map(function (r) { return r.id }).join(",")`); got != "line-4,line-7" {
		t.Errorf("the source view marks %q, want line-4,line-7", got)
	}
	for _, c := range []struct {
		line       int
		code, says string
	}{
		{4, "colour: blue", `unknown field "colour"`},
		{7, "schedules: [{cron: 'every tuesday'}]", `invalid cron expression "every tuesday"`},
	} {
		row := b.text(fmt.Sprintf("line-%d", c.line))
		code := b.eval("code", fmt.Sprintf(`document.querySelector("#line-%d .source-text").textContent`, c.line))
		msgs := b.eval("messages", fmt.Sprintf(`document.querySelector("#line-%d .source-problems").textContent`, c.line))
		if strings.TrimSpace(code) != c.code || !strings.Contains(msgs, c.says) || !strings.Contains(row, "!") {
			t.Errorf("line %d of the source view shows code %q and messages %q (row %q), want %q with %q under it and a ! mark", c.line, code, msgs, row, c.code, c.says)
		}
	}
	if n := b.count("#flow-source .source-problems li"); n != 2 {
		t.Errorf("the source view shows %d problems, want 2", n)
	}
	if got := b.eval("links", `Array.from(document.querySelectorAll("#flow-problems a.problem-link")).map(function (a) { return a.getAttribute("href") }).join(",")`); got != "#line-4,#line-7" {
		t.Errorf("the problem list links to %q, want #line-4,#line-7", got)
	}
	if got := b.eval("gutter marks", `Array.from(document.querySelectorAll("#definition-gutter .gutter-mark")).map(function (m) { return m.getAttribute("data-line") + ":" + m.textContent }).join(",")`); got != "4:!4,7:!7" {
		t.Errorf("the gutter marks %q, want 4:!4,7:!7", got)
	}
}

// placeOf is the offset in text (ASCII) of a 1-based line and column, as
// a textarea's selectionStart counts it.
func placeOf(text string, line, col int) int {
	lines := strings.SplitAfter(text, "\n")
	off := 0
	for _, l := range lines[:line-1] {
		off += len(l)
	}
	return off + col - 1
}

// TestEditorProblemsByLineInBrowser: a refused save shows each problem
// under its line in a numbered source view (with folds far from the
// problems), the editor's gutter marks the same lines, a problem link puts
// the caret at the problem, Tab indents but Escape then Tab leaves, the
// layout holds on a phone, and a fixed save clears it all.
func TestEditorProblemsByLineInBrowser(t *testing.T) {
	t.Parallel()
	inst := apptest.Start(t, apptest.Options{})
	b := newBrowser(t)
	base := inst.URL
	shots := shotsDir(t)
	setupInBrowser(t, b, inst)
	api := inst.Login(t, adminEmail, adminPassword)
	pid := api.Do(t, "POST", "/api/v1/projects", map[string]any{"name": "Shop"}).String("id")
	pipe := api.Do(t, "POST", "/api/v1/projects/"+pid+"/pipes", map[string]any{"name": "orders"}).String("id")
	r := api.Do(t, "POST", "/api/v1/projects/"+pid+"/pipes/"+pipe+"/flows", map[string]any{"definition": goodFlow})
	if r.Status != http.StatusCreated {
		t.Fatalf("create flow: %d %s", r.Status, r.Body)
	}
	flowPath := "/projects/" + pid + "/pipes/" + pipe + "/flows/" + r.String("id")
	b.do("laptop viewport", chromedp.EmulateViewport(1280, 800))
	b.open(base + flowPath)

	// Without problems the gutter numbers the lines and marks none.
	if n, want := b.count("#definition-gutter .gutter-line"), strings.Count(b.eval("text", `document.getElementById("definition").value`), "\n")+1; n != want {
		t.Errorf("the gutter has %d lines for a text of %d lines", n, want)
	}
	if n := b.count("#definition-gutter .gutter-mark, #flow-source, #flow-problems"); n != 0 {
		t.Errorf("a saved flow shows %d problem marks", n)
	}
	if b.has("editor-keys") && b.eval("hint", `String(document.getElementById("editor-keys").hidden)`) != "false" {
		t.Error("the keyboard hint under the editor stays hidden although editor.js runs")
	}

	setDefinition(b, editorBadFlow)
	if st := b.submit("save-flow"); st != http.StatusUnprocessableEntity {
		t.Fatalf("save with two problems: status %d, want 422; page:\n%s", st, b.bodyText())
	}
	if v := b.eval("kept text", `document.getElementById("definition").value`); v != editorBadFlow {
		t.Fatalf("the refused text was not kept as typed:\n%q", v)
	}

	// (a) The source view marks exactly lines 4 and 7, each with its
	// message under it, and folds the comments far from both; (b) the
	// gutter marks the same lines.
	expectBadFlowProblems(t, b)
	if got := b.eval("shown lines", `Array.from(document.querySelectorAll("#flow-source tr.source-line")).map(function (r) { return r.id.slice(5) }).join(",")`); got != "1,2,3,4,5,6,7,8,9" {
		t.Errorf("the source view shows lines %q, want 1 to 9 (2 lines around each problem; a single line is not folded)", got)
	}
	if fold := b.eval("fold", `Array.from(document.querySelectorAll("#flow-source tr.source-fold")).map(function (r) { return r.textContent.replace(/\s+/g, " ").trim() }).join("|")`); !strings.Contains(fold, "lines 10–39 not shown") || strings.Contains(fold, "|") {
		t.Errorf("the source view's folds say %q, want one fold for lines 10–39", fold)
	}

	// (b) The gutter marks the same lines, with a "!" and not colour
	// alone, and its lines are as tall as the textarea's.
	if n, want := b.count("#definition-gutter .gutter-line"), strings.Count(editorBadFlow, "\n")+1; n != want {
		t.Errorf("the gutter has %d lines, want %d", n, want)
	}
	// (Layout rounds heights to 1/64 px.)
	if g, a := mustFloat(t, b.eval("gutter line", `String(document.querySelector("#definition-gutter .gutter-line").getBoundingClientRect().height)`)),
		mustFloat(t, b.eval("textarea line", `String(parseFloat(getComputedStyle(document.getElementById("definition")).lineHeight))`)); g < a-0.02 || g > a+0.02 {
		t.Errorf("a gutter line is %vpx tall, a textarea line %vpx: the numbers drift from their lines", g, a)
	}
	if g, a := b.eval("gutter top", `String(document.getElementById("definition-gutter").getBoundingClientRect().height)`),
		b.eval("textarea height", `String(document.getElementById("definition").getBoundingClientRect().height)`); g != a {
		t.Errorf("the gutter is %spx tall beside a textarea of %spx", g, a)
	}
	// It scrolls with the textarea.
	b.do("scroll the textarea", chromedp.Evaluate[chromedp.Void](`document.getElementById("definition").scrollTop = 200`))
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`document.getElementById("definition").scrollTop > 0 &&
		Math.abs(document.getElementById("definition-gutter").scrollTop - document.getElementById("definition").scrollTop) < 1`)); err != nil {
		t.Errorf("the gutter did not follow the textarea's scrolling: gutter %s, textarea %s", b.eval("g", `String(document.getElementById("definition-gutter").scrollTop)`),
			b.eval("a", `String(document.getElementById("definition").scrollTop)`))
	}
	b.do("scroll back", chromedp.Evaluate[chromedp.Void](`document.getElementById("definition").scrollTop = 0`))

	// (c) A click on a problem puts the caret at its line and column in
	// the focused textarea; so does Enter on a focused problem link.
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
	b.do("Enter on the colour problem", chromedp.Focus(chromedp.CSS(`#flow-problems a.problem-link[data-line="4"]`)), chromedp.KeyEvent(kb.Enter))
	if focus, at := caret(); focus != "definition" || at != placeOf(editorBadFlow, 4, 1) {
		t.Errorf("after Enter on the line-4 problem the focus is on %q with the caret at %d, want #definition at %d (line 4, column 1)", focus, at, placeOf(editorBadFlow, 4, 1))
	}
	if p := b.path(base); p != flowPath {
		t.Errorf("following a problem link with script on changed the address to %q", p)
	}
	b.do("click the gutter mark", chromedp.Click(chromedp.CSS(`#definition-gutter .gutter-mark[data-line="7"]`)))
	if focus, at := caret(); focus != "definition" || at != placeOf(editorBadFlow, 7, 1) {
		t.Errorf("after a click on the gutter's line-7 mark the focus is on %q with the caret at %d, want #definition at %d", focus, at, placeOf(editorBadFlow, 7, 1))
	}

	// Tab indents by two spaces and keeps the focus; Escape then Tab
	// leaves the editor, so keyboard users are not trapped.
	b.do("put the caret on line 4", chromedp.Click(chromedp.CSS(`#flow-problems a.problem-link[data-line="4"]`)), chromedp.KeyEvent(kb.Tab))
	text := b.eval("text", `document.getElementById("definition").value`)
	if focus, at := caret(); focus != "definition" || !strings.Contains(text, "\n  colour: blue\n") || at != placeOf(editorBadFlow, 4, 3) {
		t.Errorf("Tab at line 4: focus %q, caret %d, line 4 %q; want the focus kept and two spaces inserted", focus, at, strings.Split(text, "\n")[3])
	}
	b.do("Escape, then Tab", chromedp.KeyEvent(kb.Escape), chromedp.KeyEvent(kb.Tab))
	if focus, _ := caret(); focus != "save-flow" {
		t.Errorf("Escape then Tab left the focus on %q, want it on the next control (#save-flow)", focus)
	}
	if got := b.eval("text", `document.getElementById("definition").value`); got != text {
		t.Errorf("Escape then Tab changed the text")
	}
	if hint := b.text("editor-keys"); !strings.Contains(hint, "Escape, then Tab") {
		t.Errorf("the hint under the editor says %q, want how to leave it", hint)
	}
	setDefinition(b, editorBadFlow)
	b.shot(shots, "editor-problems-laptop.png")
	if png, err := chromedp.Run(b.ctx, chromedp.Screenshot(chromedp.ID("flow-source"))); err != nil {
		t.Fatalf("screenshot of the source view: %v", err)
	} else if err := os.WriteFile(filepath.Join(shots, "editor-source-view.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	laptopGutter := mustFloat(t, b.eval("gutter width", `String(document.getElementById("definition-gutter").getBoundingClientRect().width)`))

	// (phone) The page does not scroll sideways: the long line scrolls
	// inside the source view's box.
	b.do("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	b.open(base + flowPath) // lays the page out for the phone; the problems are gone, so save again
	setDefinition(b, editorBadFlow)
	if st := b.submit("save-flow"); st != http.StatusUnprocessableEntity {
		t.Fatalf("save on the phone: status %d", st)
	}
	if w := b.eval("page width", `document.documentElement.scrollWidth + " " + document.documentElement.clientWidth`); func() bool {
		var s, c int
		_, err := fmt.Sscan(w, &s, &c)
		return err != nil || s > c
	}() {
		t.Errorf("on a phone the page is wider than the screen (scrollWidth, clientWidth = %s)", w)
	}
	if got := b.eval("box", `(function () { var s = document.querySelector("#flow-source .source-scroll"); return String(s.scrollWidth > s.clientWidth) })()`); got != "true" {
		t.Errorf("on a phone the long line does not scroll inside the source view's box")
	}
	if g := mustFloat(t, b.eval("gutter width", `String(document.getElementById("definition-gutter").getBoundingClientRect().width)`)); g >= laptopGutter {
		t.Errorf("on a phone the gutter is %vpx wide, want it narrower than on a laptop (%vpx)", g, laptopGutter)
	}
	b.shot(shots, "editor-problems-phone.png")
	for _, part := range []string{"flow-form", "flow-source"} {
		png, err := chromedp.Run(b.ctx, chromedp.Screenshot(chromedp.ID(part)))
		if err != nil {
			t.Fatalf("screenshot #%s: %v", part, err)
		}
		if err := os.WriteFile(filepath.Join(shots, "editor-phone-"+part+".png"), png, 0o644); err != nil {
			t.Fatalf("keep screenshot: %v", err)
		}
	}
	b.do("laptop viewport", chromedp.EmulateViewport(1280, 800))

	// A problem with no line (an empty definition) is listed first, for
	// the whole document, without a table of lines.
	setDefinition(b, "")
	if st := b.submit("save-flow"); st != http.StatusUnprocessableEntity {
		t.Fatalf("save an empty definition: status %d, want 422", st)
	}
	if whole := b.text("source-whole"); !strings.Contains(whole, "The whole document") || !strings.Contains(whole, "empty") {
		t.Errorf("an empty definition's problem reads %q, want it for the whole document", whole)
	}
	if n := b.count("#flow-source table, #definition-gutter .gutter-mark, #flow-problems a.problem-link"); n != 0 {
		t.Errorf("a problem with no line got %d line marks or links", n)
	}

	// (e) The fixed text saves, and the problems and marks are gone.
	setDefinition(b, goodFlow)
	if st := b.submit("save-flow"); st != http.StatusOK {
		t.Fatalf("save the fixed flow: status %d; page:\n%s", st, b.bodyText())
	}
	b.expectPage(base, flowPath+"?notice=saved")
	if n := b.count("#flow-problems, #flow-source, #definition-gutter .gutter-mark, .source-line.has-problem"); n != 0 {
		t.Errorf("after the fixed save %d problem elements remain; page:\n%s", n, b.bodyText())
	}
	if n := b.count("#definition-gutter .gutter-line"); n == 0 {
		t.Error("after the fixed save the editor has no gutter")
	}
}

// setDefinition puts text in the flow editor as a paste would (typing it
// key by key would let Tab indent).
func setDefinition(b *browser, text string) {
	b.t.Helper()
	lit, _ := json.Marshal(text)
	b.do("set the definition", chromedp.Evaluate[chromedp.Void](`(function () { var a = document.getElementById("definition"); a.value = `+string(lit)+
		`; a.dispatchEvent(new Event("input", { bubbles: true })); })()`))
}

func mustFloat(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return f
}
