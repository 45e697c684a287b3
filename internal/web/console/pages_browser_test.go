package console_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/web/console"
)

// pageChecks is run in every page: what keyboard and screen-reader users
// need of any page, as a list of problems ("" when there are none).
const pageChecks = `(function () {
  var p = [];
  if (!document.documentElement.lang) p.push('the html element has no lang');
  var h1 = document.querySelectorAll('h1').length;
  if (h1 !== 1) p.push(h1 + ' h1 headings, want 1');
  if (!document.querySelector('main#main')) p.push('no <main id="main"> for the skip link');
  var first = document.querySelector('a[href], button, input:not([type=hidden]), select, textarea, summary');
  if (!first || first.id !== 'skip') p.push('the first control is ' + (first ? first.outerHTML.slice(0, 80) : 'none') + ', want the skip link');
  document.querySelectorAll('input, select, textarea').forEach(function (e) {
    if (e.type === 'hidden') return;
    var named = (e.labels && e.labels.length) || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby');
    if (!named) p.push('a ' + e.tagName.toLowerCase() + ' without a label: name=' + e.name + ' id=' + e.id);
  });
  document.querySelectorAll('button, a[href], summary').forEach(function (e) {
    if (!(e.textContent || '').trim() && !e.getAttribute('aria-label')) p.push('a ' + e.tagName.toLowerCase() + ' without a name: ' + e.outerHTML.slice(0, 80));
  });
  document.querySelectorAll('[tabindex]').forEach(function (e) {
    if (e.tabIndex > 0) p.push('a positive tabindex changes the keyboard order: ' + e.outerHTML.slice(0, 80));
  });
  var ids = {};
  document.querySelectorAll('[id]').forEach(function (e) {
    if (ids[e.id]) p.push('duplicate id ' + e.id);
    ids[e.id] = true;
  });
  document.querySelectorAll('[aria-describedby]').forEach(function (e) {
    e.getAttribute('aria-describedby').split(/\s+/).forEach(function (id) {
      if (id && !document.getElementById(id)) p.push(e.id + ' is described by a missing #' + id);
    });
  });
  return p.join('\n');
})()`

// overflow is how far a page scrolls sideways (0 when it fits).
const overflow = `Math.max(0, document.documentElement.scrollWidth - window.innerWidth)`

// TestEveryPageInBrowser opens every page of the console's route table, as
// the instance administrator who owns a project with something on every
// page, on a laptop's and a phone's width: each answers 200, is usable
// from the keyboard (a skip link first, a visible focus, no positive
// tabindex), names every control, and does not scroll sideways on the
// phone. A page added to the routes without a way to open it here fails
// the test.
func TestEveryPageInBrowser(t *testing.T) {
	t.Parallel()
	inst := apptest.Start(t, apptest.Options{})
	in := filepath.Join(inst.App.Config.FilesDir, "in", "orders.ndjson")
	if err := os.MkdirAll(filepath.Dir(in), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, []byte("{\"id\":1,\"total\":5}\n{\"id\":2,\"total\":500}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	shots := shotsDir(t)
	base := inst.URL

	// The setup page, before there is an account.
	b.open(base + "/setup?token=" + inst.SetupToken(t))
	checkPage(t, b, "/setup")
	setupInBrowser(t, b, inst)
	api := inst.Login(t, adminEmail, adminPassword)

	must := func(r *apptest.Response, status int, what string) *apptest.Response {
		t.Helper()
		if r.Status != status {
			t.Fatalf("%s: %d %s", what, r.Status, r.Body)
		}
		return r
	}
	pid, pipe := newPipe(t, api, "orders")
	pp := "/api/v1/projects/" + pid
	f := must(api.Do(t, "POST", pp+"/pipes/"+pipe+"/flows", map[string]any{"definition": goodFlow}), http.StatusCreated, "flow").String("id")
	run := must(api.Do(t, "POST", pp+"/pipes/"+pipe+"/flows/"+f+"/runs", nil), http.StatusAccepted, "run").String("id")
	conn := must(api.Do(t, "POST", pp+"/connections", map[string]any{"name": "shop", "kind": "http",
		"settings": map[string]any{"base_url": "http://127.0.0.1:9/v1"}, "auth": map[string]any{"type": "bearer", "token": "page-check-token"}}),
		http.StatusCreated, "connection").String("id")
	cons := must(api.Do(t, "POST", pp+"/consumers", map[string]any{"name": "erp", "flows": []string{f}, "auth": map[string]any{"type": "basic"}}),
		http.StatusCreated, "consumer").String("id")
	group := must(api.Do(t, "POST", "/api/v1/groups", map[string]any{"name": "ops"}), http.StatusCreated, "group").String("id")
	inst.CreateUser(t, api, "sam@example.com", "sam-password-long-enough", false)
	waitFinishedPage(t, b, base+"/projects/"+pid+"/runs/"+run)

	// Every GET page of the route table, its parameters filled in.
	values := map[string]string{"{p}": pid, "{pipe}": pipe, "{f}": f, "{v}": "1", "{r}": run, "{id}": group}
	var pages []string
	for _, rt := range (&console.Console{}).Routes() {
		if rt.Method != http.MethodGet {
			continue
		}
		switch rt.Path {
		case "/static/", "/setup", "/login", "/invite":
			continue // files; and pages for people without a session, checked below
		case "/oauth2/callback":
			continue // the authorization server's answer, an error page without one
		}
		path := strings.TrimSuffix(rt.Path, "{$}")
		switch {
		case strings.Contains(path, "/connections/{c}"):
			path = strings.Replace(path, "{c}", conn, 1)
		case strings.Contains(path, "/consumers/{c}"):
			path = strings.Replace(path, "{c}", cons, 1)
		}
		for k, v := range values {
			path = strings.ReplaceAll(path, k, v)
		}
		if strings.Contains(path, "{") {
			t.Fatalf("page %s: this test does not know what to fill in; add the parameter to its values", rt.Path)
		}
		pages = append(pages, path)
	}
	if len(pages) < 15 {
		t.Fatalf("only %d pages in the route table: %v", len(pages), pages)
	}

	for _, p := range pages {
		b.do("laptop", chromedp.EmulateViewport(1024, 720))
		if st := b.open(base + p); st != http.StatusOK {
			t.Errorf("%s: status %d\n%s", p, st, b.bodyText())
			continue
		}
		checkPage(t, b, p)
		b.do("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
		b.open(base + p)
		if w := b.eval("overflow", `String(`+overflow+`)`); w != "0" {
			t.Errorf("%s on a phone scrolls sideways by %s px", p, w)
		}
		switch p {
		case "/projects/" + pid:
			b.shot(shots, "dashboard-phone.png")
		case "/projects/" + pid + "/runs/" + run:
			b.shot(shots, "run-phone.png")
		}
	}

	// The login page, after logging out.
	b.do("laptop", chromedp.EmulateViewport(1024, 720))
	b.open(base + "/projects")
	if st := b.submit("logout"); st != http.StatusOK {
		t.Fatalf("log out: %d", st)
	}
	checkPage(t, b, "/login")
}

// checkPage runs pageChecks on the page the tab shows, then presses Tab:
// the skip link takes the focus, visibly, and Enter on it moves the focus
// to the page's main content.
func checkPage(t *testing.T, b *browser, p string) {
	t.Helper()
	if problems := b.eval("checks", pageChecks); problems != "" {
		t.Errorf("%s:\n  %s", p, strings.ReplaceAll(problems, "\n", "\n  "))
	}
	b.do("focus the page", chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur(); window.focus()`))
	b.do("tab", chromedp.KeyEvent(kb.Tab))
	focus := b.eval("focus", `(function () { var e = document.activeElement, s = getComputedStyle(e);
  return e.id + ' ' + s.outlineStyle + ' ' + (e.getBoundingClientRect().left >= 0) })()`)
	if focus != "skip solid true" {
		t.Errorf("%s: after Tab the focus is %q, want the skip link, outlined and on screen", p, focus)
		return
	}
	b.do("enter", chromedp.KeyEvent(kb.Enter))
	if got := b.eval("focus after skip", `document.activeElement.id`); got != "main" {
		t.Errorf("%s: the skip link moved the focus to %q, want main", p, got)
	}
}
