package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/app/apptest"
)

// TestLoginKeepsAddressInBrowser: a link to a project's failed runs opened
// without a session leads through the login page back to the same
// address, filter included. A next that would leave the site lands on the
// start page: the Location the server sends is resolved by the browser's
// own URL parser, which reads backslashes and drops tabs as no Go parser
// does.
func TestLoginKeepsAddressInBrowser(t *testing.T) {
	t.Parallel()
	inst := apptest.Start(t, apptest.Options{})
	b := newBrowser(t)
	base := inst.URL
	setupInBrowser(t, b, inst)
	owner := inst.Login(t, adminEmail, adminPassword)
	r := owner.Do(t, "POST", "/api/v1/projects", map[string]any{"name": "Shop"})
	if r.Status != http.StatusCreated {
		t.Fatalf("create project: %d %s", r.Status, r.Body)
	}
	filtered := "/projects/" + r.String("id") + "/runs?status=failed&trigger=manual"

	b.submit("logout")
	if st := b.open(base + filtered); st != http.StatusOK {
		t.Fatalf("anonymous open of %s: status %d", filtered, st)
	}
	b.expectPage(base, "/login?next="+url.QueryEscape(filtered))
	b.typeInto("email", adminEmail)
	b.typeInto("password", adminPassword)
	if st := b.submit("submit"); st != http.StatusOK {
		t.Fatalf("log in: status %d; page:\n%s", st, b.bodyText())
	}
	b.expectPage(base, filtered)
	if v := b.eval("status filter", `document.getElementById('filter-status').value`); v != "failed" {
		t.Errorf("after login the status filter is %q, want failed", v)
	}
	if v := b.eval("trigger filter", `document.getElementById('filter-trigger').value`); v != "manual" {
		t.Errorf("after login the trigger filter is %q, want manual", v)
	}
	if !b.has("filter-clear") {
		t.Error("after login the runs page shows no filter applied (no Clear filters link)")
	}

	// Off-site nexts: the server's Location, resolved by the browser
	// against the page, stays on this origin.
	c := inst.NewClient()
	for _, next := range []string{"//evil.example/x", `/\evil.example`, `/\/evil.example`, "https://evil.example/", "/%2F%2Fevil.example",
		"/%5Cevil.example", "/\t/evil.example", "/.//evil.example", "%2F%2Fevil.example", "javascript:alert(1)"} {
		r := c.Form(t, "/login", url.Values{"email": {adminEmail}, "password": {adminPassword}, "next": {next}})
		if r.Status != http.StatusSeeOther {
			t.Fatalf("log in with next %q: status %d %s", next, r.Status, r.Body)
		}
		loc := r.Header.Get("Location")
		got := b.eval("resolve "+loc, `new URL(`+jsString(loc)+`, location.href).origin + " " + new URL(`+jsString(loc)+`, location.href).href`)
		origin, _, _ := strings.Cut(got, " ")
		if origin != base {
			t.Errorf("next %q: Location %q takes the browser to %s, off the site %s", next, loc, got, base)
		}
	}
	// And in the browser itself: the login page's next is kept only when
	// it is safe.
	b.submit("logout")
	b.open(base + "/login?next=" + url.QueryEscape(`/\evil.example`))
	b.typeInto("email", adminEmail)
	b.typeInto("password", adminPassword)
	b.submit("submit")
	b.expectPage(base, "/")
}
