package console_test

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluice-dev/sluice/internal/app/apptest"
)

// shotsDir is where a test keeps its screenshots: $SLUICE_SCREENSHOTS
// when set (CI keeps it as an artifact), else a folder under the system's
// temporary directory that outlives the test, named after it.
func shotsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SLUICE_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "sluice-screenshots")
	}
	dir = filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshots folder: %v", err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// shot keeps a full-page picture of the tab in dir (quality 100 is PNG).
func (b *browser) shot(dir, name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		b.t.Fatalf("keep screenshot %s: %v", name, err)
	}
}

// submitQuery clicks the first element matching a CSS selector that
// submits a form and returns the status of the page the browser lands on.
func (b *browser) submitQuery(sel string) int64 {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("click %s: %v", sel, err)
	}
	return resp.Status
}

// count is how many elements match a CSS selector.
func (b *browser) count(sel string) int {
	b.t.Helper()
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+jsString(sel)+`).length`))
	if err != nil {
		b.t.Fatalf("count %s: %v", sel, err)
	}
	return n
}

func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// setupInBrowser creates the first account through the setup link, as a
// new user does.
func setupInBrowser(t *testing.T, b *browser, inst *apptest.Instance) {
	t.Helper()
	b.open(inst.URL + "/setup?token=" + inst.SetupToken(t))
	b.typeInto("email", adminEmail)
	b.typeInto("name", "Ada")
	b.typeInto("password", adminPassword)
	if st := b.submit("submit"); st != http.StatusOK {
		t.Fatalf("setup: status %d; page:\n%s", st, b.bodyText())
	}
}

// adminInBrowser starts an instance with o and sets it up in a new
// browser, which stays logged in as the administrator; api is the
// administrator logged in through the API.
func adminInBrowser(t *testing.T, o apptest.Options) (inst *apptest.Instance, b *browser, api *apptest.Client) {
	t.Helper()
	inst = apptest.Start(t, o)
	b = newBrowser(t)
	setupInBrowser(t, b, inst)
	return inst, b, inst.Login(t, adminEmail, adminPassword)
}

// newPipe creates the project "Shop" with one pipe through the API.
func newPipe(t *testing.T, api *apptest.Client, pipe string) (pid, pipeID string) {
	t.Helper()
	r := api.Do(t, "POST", "/api/v1/projects", map[string]any{"name": "Shop"})
	if r.Status != http.StatusCreated {
		t.Fatalf("create project: %d %s", r.Status, r.Body)
	}
	pid = r.String("id")
	r = api.Do(t, "POST", "/api/v1/projects/"+pid+"/pipes", map[string]any{"name": pipe})
	if r.Status != http.StatusCreated {
		t.Fatalf("create pipe: %d %s", r.Status, r.Body)
	}
	return pid, r.String("id")
}

// Flow documents the journey types into the editor.
const (
	// badFlow names a file format that does not exist.
	badFlow = "name: orders to file\nread:\n  file: {path: in/orders.ndjson, format: xml}\nentity_id: .id\nsteps:\n  - map: '{id, total}'\n"
	// goodFlow refuses orders over 100, so a run has failed records.
	goodFlow = "name: orders to file\nread:\n  file: {path: in/orders.ndjson, format: ndjson}\nentity_id: .id\nsteps:\n" +
		"  - fail: 'if .total > 100 then \"too big\" else empty end'\n  - map: '{id, total}'\n" +
		"  - write:\n      file: {path: out/orders.ndjson, format: ndjson}\n"
)

// TestProjectJourneyInBrowser walks a new user from the setup link to a
// run: the empty projects list, a refused and a good project name, a
// pipe, a flow from the starter definition, a refused and a good save,
// Run now, and the dashboard's chart of the run's records. An outsider
// then gets the 404 page for the project.
func TestProjectJourneyInBrowser(t *testing.T) {
	t.Parallel()
	inst := apptest.Start(t, apptest.Options{})
	in := filepath.Join(inst.App.Config.FilesDir, "in", "orders.ndjson")
	if err := os.MkdirAll(filepath.Dir(in), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, []byte("{\"id\":1,\"total\":5}\n{\"id\":2,\"total\":500}\n{\"id\":3,\"total\":7}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	base := inst.URL
	shots := shotsDir(t)
	setupInBrowser(t, b, inst)

	// The start page leads to the projects, which are empty and say how
	// to start.
	b.do("follow the projects link", chromedp.Click(chromedp.CSS("#home-projects")), chromedp.WaitVisible(chromedp.CSS("#project-form")))
	b.expectPage(base, "/projects")
	if s := b.text("projects-empty"); !strings.Contains(s, "Create one below") {
		t.Errorf("empty projects list says %q", s)
	}
	b.expectStyled()

	// A blank name passes the browser's required check and is refused by
	// the server next to the field.
	b.typeInto("project-name", "   ")
	if st := b.submit("create-project"); st != http.StatusUnprocessableEntity {
		t.Errorf("blank project name: status %d, want 422", st)
	}
	if s := b.text("error-name"); !strings.HasPrefix(s, "Name is required") {
		t.Errorf("blank project name: the field says %q", s)
	}
	b.typeInto("project-name", "Shop ↔ ERP")
	if st := b.submit("create-project"); st != http.StatusOK {
		t.Fatalf("create project: status %d; page:\n%s", st, b.bodyText())
	}
	m := regexp.MustCompile(`^/projects/([^/?]+)\?notice=created$`).FindStringSubmatch(b.path(base))
	if m == nil {
		t.Fatalf("after creating a project the browser is on %q, want its dashboard", b.path(base))
	}
	pid := m[1]
	if r := b.text("role"); r != "owner" {
		t.Errorf("the project nav shows role %q, want owner", r)
	}
	b.open(base + "/projects")
	if s := b.text("project-list"); !strings.Contains(s, "Shop ↔ ERP") {
		t.Errorf("projects list shows %q", s)
	}
	b.shot(shots, "projects.png")

	// A pipe, from the empty pipes page.
	b.do("open the project", chromedp.Click(chromedp.CSS("a.project-link")), chromedp.WaitVisible(chromedp.CSS("#records-chart")))
	b.expectPage(base, "/projects/"+pid)
	b.do("open pipes", chromedp.Click(chromedp.CSS("#nav-pipes")), chromedp.WaitVisible(chromedp.CSS("#pipe-form")))
	if s := b.text("pipes-empty"); !strings.Contains(s, "Create one below") {
		t.Errorf("empty pipes page says %q", s)
	}
	b.typeInto("pipe-name", "Shop ↔ files")
	if st := b.submit("create-pipe"); st != http.StatusOK {
		t.Fatalf("create pipe: status %d; page:\n%s", st, b.bodyText())
	}
	b.expectPage(base, "/projects/"+pid+"/pipes?notice=pipe-created")

	// A flow from the starter definition the form holds.
	b.do("open the new-flow form", chromedp.Click(chromedp.CSS("section.pipe summary")))
	if st := b.submitQuery("section.pipe button.create-flow"); st != http.StatusOK {
		t.Fatalf("create flow: status %d; page:\n%s", st, b.bodyText())
	}
	m = regexp.MustCompile(`^(/projects/` + pid + `/pipes/[^/]+/flows/[^/?]+)\?notice=created$`).FindStringSubmatch(b.path(base))
	if m == nil {
		t.Fatalf("after creating a flow the browser is on %q, want its page", b.path(base))
	}
	flowPath := m[1]
	if s := b.text("flow-diagram"); !strings.Contains(s, "read") || !strings.Contains(s, "in/orders.ndjson") || !strings.Contains(s, "write") {
		t.Errorf("the diagram shows %q, want the file read and the write", s)
	}

	// A bad definition is refused, with the problem's path and line beside
	// the editor and the text kept.
	b.typeInto("definition", badFlow)
	if st := b.submit("save-flow"); st != http.StatusUnprocessableEntity {
		t.Errorf("bad definition: status %d, want 422", st)
	}
	probs := b.text("flow-problems")
	if !strings.Contains(probs, "definition.read.file.format") || !strings.Contains(probs, "line 3") {
		t.Errorf("the problems beside the editor say %q, want the format's path and line 3", probs)
	}
	if v := b.eval("kept text", `document.getElementById('definition').value`); v != badFlow {
		t.Errorf("after the refused save the editor holds %q, want the text as typed", v)
	}
	if b.count("#versions tbody tr") != 1 {
		t.Errorf("a refused save added a version")
	}
	b.shot(shots, "flow-problems.png")

	// A good one is saved as version 2; the diagram shows the new step.
	b.typeInto("definition", goodFlow)
	if st := b.submit("save-flow"); st != http.StatusOK {
		t.Fatalf("save: status %d; page:\n%s", st, b.bodyText())
	}
	b.expectPage(base, flowPath+"?notice=saved")
	if b.has("flow-problems") {
		t.Errorf("a good save still shows problems: %s", b.text("flow-problems"))
	}
	if n := b.count("#versions tbody tr"); n != 2 {
		t.Errorf("%d versions after one good save, want 2", n)
	}
	if s := b.text("flow-diagram"); !strings.Contains(s, "fail") {
		t.Errorf("the diagram after the save shows %q, want the fail step", s)
	}
	b.shot(shots, "flow.png")

	// Turn it on and off again.
	b.submit("enable-flow")
	if s := b.text("flow-state"); s != "on" {
		t.Errorf("after Turn on the flow shows %q", s)
	}
	b.submit("disable-flow")
	if s := b.text("flow-state"); s != "off" {
		t.Errorf("after Turn off the flow shows %q", s)
	}

	// Run now lands on the run's page.
	b.submit("run-now")
	run := strings.TrimPrefix(b.path(base), "/projects/"+pid+"/runs/")
	if run == b.path(base) || run == "" || strings.ContainsAny(run, "/?") {
		t.Fatalf("Run now left the browser on %q, want /projects/%s/runs/{run}", b.path(base), pid)
	}
	api := inst.Login(t, adminEmail, adminPassword)
	waitRunDone(t, api, pid, run)

	// The dashboard counts the run's records and draws them.
	if st := b.open(base + "/projects/" + pid); st != http.StatusOK {
		t.Fatalf("dashboard: status %d", st)
	}
	if n := b.count("svg#records-chart rect.bar-ok"); n != 14 {
		t.Errorf("the chart has %d succeeded bars, want one per day (14)", n)
	}
	if n := b.count(`svg#records-chart rect.bar-bad:not([height="0"])`); n != 1 {
		t.Errorf("the chart has %d non-empty failed bars, want 1 (today)", n)
	}
	if s, f := b.text("records-succeeded"), b.text("records-failed"); s != "2" || f != "1" {
		t.Errorf("dashboard counts %s succeeded, %s failed; want 2 and 1", s, f)
	}
	if s := b.text("success-rate"); s != "66.7%" {
		t.Errorf("success rate %q, want 66.7%%", s)
	}
	if s := b.text("recent-failures"); !strings.Contains(s, "orders to file") || !strings.Contains(s, "partially_failed") {
		t.Errorf("recent failures show %q", s)
	}
	b.expectStyled()
	b.shot(shots, "dashboard.png")

	// On a phone's width the pages fit: nothing scrolls sideways.
	b.do("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	for _, p := range []string{"/projects/" + pid, flowPath, "/projects/" + pid + "/pipes", "/projects"} {
		b.open(base + p)
		if w := b.eval("widths", `document.documentElement.scrollWidth + " " + document.documentElement.clientWidth`); len(strings.Fields(w)) != 2 || strings.Fields(w)[0] != strings.Fields(w)[1] {
			t.Errorf("%s on a phone: scroll width and viewport width are %s, want them equal", p, w)
		}
		if p == "/projects/"+pid {
			b.shot(shots, "dashboard-phone.png")
		}
	}
	b.do("reset viewport", chromedp.EmulateReset())

	// An outsider gets the 404 page for the project and its flow, and an
	// empty projects list.
	inst.CreateUser(t, api, "olga@example.com", adminPassword, false)
	b.submit("logout")
	b.open(base + "/login")
	b.typeInto("email", "olga@example.com")
	b.typeInto("password", adminPassword)
	b.submit("submit")
	for _, p := range []string{"/projects/" + pid, flowPath, "/projects/" + pid + "/pipes"} {
		if st := b.open(base + p); st != http.StatusNotFound {
			t.Errorf("outsider opens %s: status %d, want 404", p, st)
		}
		if b.has("records-chart") || b.has("flow-diagram") || b.has("nav-pipes") || strings.Contains(b.bodyText(), "Shop") {
			t.Errorf("outsider's 404 page for %s shows the project:\n%s", p, b.bodyText())
		}
	}
	b.open(base + "/projects")
	if !b.has("projects-empty") {
		t.Errorf("the outsider's projects list is not empty:\n%s", b.bodyText())
	}
}

// waitRunDone polls a run through the API until it has finished.
func waitRunDone(t *testing.T, c *apptest.Client, pid, id string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // a hang guard, not a timing assertion
	for {
		r := c.Do(t, "GET", "/api/v1/projects/"+pid+"/runs/"+id, nil)
		switch r.String("status") {
		case "completed", "partially_failed", "failed", "cancelled":
			return
		}
		if r.Status != http.StatusOK || time.Now().After(deadline) {
			t.Fatalf("run %s did not finish: %d %s", id, r.Status, r.Body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
