package console_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sluice-dev/sluice/internal/app/apptest"
)

// TestInviteColleagueInBrowser is issue 8's "done when": the administrator
// who came in through the setup link invites a colleague from a project's
// members page, in the browser alone; the colleague opens the link in a
// browser of their own, chooses a password, lands on their projects and
// sees the project with a standard member's controls only; the link works
// once.
func TestInviteColleagueInBrowser(t *testing.T) {
	t.Parallel()
	inst := apptest.Start(t, apptest.Options{})
	base, shots := inst.URL, shotsDir(t)
	b := newBrowser(t)
	setupInBrowser(t, b, inst)

	// A project, made in the browser.
	b.open(base + "/projects")
	b.typeInto("project-name", "Warehouse")
	if st := b.submit("create-project"); st != http.StatusOK {
		t.Fatalf("create project: status %d\n%s", st, b.bodyText())
	}
	m := regexp.MustCompile(`^/projects/([^/?]+)`).FindStringSubmatch(b.path(base))
	if m == nil {
		t.Fatalf("after creating the project the browser is on %q", b.path(base))
	}
	members := base + "/projects/" + m[1] + "/members"

	// Invite from the members page: a bad address first, beside its field.
	b.open(members)
	if !b.has("invite-form") || !b.has("nav-users") {
		t.Fatalf("the administrator's members page has no invite form or no Users link:\n%s", b.bodyText())
	}
	b.typeInto("invite-email", "colleague@example")
	if st := b.submit("invite-submit"); st != http.StatusUnprocessableEntity || !strings.Contains(b.text("error-invite-email"), "not a valid email") {
		t.Fatalf("a bad email: status %d\n%s", st, b.bodyText())
	}
	b.typeInto("invite-email", "colleague@example.test")
	b.typeInto("invite-name", "Cole")
	b.do("choose standard", chromedp.SetValue(chromedp.ID("invite-role"), "standard"))
	if st := b.submit("invite-submit"); st != http.StatusCreated {
		t.Fatalf("invite: status %d\n%s", st, b.bodyText())
	}
	link := b.eval("read the link", `document.getElementById("invite-url").value`)
	if !strings.HasPrefix(link, base+"/invite?token=") {
		t.Fatalf("the page shows the link %q", link)
	}
	if !strings.Contains(b.text("members-table"), "colleague@example.test") {
		t.Fatalf("the colleague is not listed as a member:\n%s", b.bodyText())
	}
	b.shot(shots, "members-invited.png")

	b.open(base + "/users")
	if s := b.text("users-table"); !strings.Contains(s, "colleague@example.test") || !strings.Contains(s, "invited") {
		t.Fatalf("the users page does not list the colleague as invited: %q", s)
	}
	if b.has("invite-url") {
		t.Fatal("the users page shows the link again")
	}
	b.shot(shots, "users.png")

	// The colleague, in a browser of their own with no cookies.
	c := newBrowser(t)
	if st := c.open(link); st != http.StatusOK || c.text("invite-email") != "colleague@example.test" {
		t.Fatalf("the link: status %d\n%s", st, c.bodyText())
	}
	c.expectStyled()
	c.shot(shots, "invite.png")
	const pw = "Quiet-Meadow-Lantern-31"
	c.typeInto("password", pw)
	c.typeInto("password2", pw+"x")
	if st := c.submit("submit"); st != http.StatusUnprocessableEntity || !strings.Contains(c.text("error-password2"), "differ") {
		t.Fatalf("different passwords: status %d\n%s", st, c.bodyText())
	}
	c.typeInto("password", pw)
	c.typeInto("password2", pw)
	if st := c.submit("submit"); st != http.StatusOK {
		t.Fatalf("accept: status %d\n%s", st, c.bodyText())
	}
	c.expectPage(base, "/projects")
	if s := c.text("whoami"); s != "colleague@example.test" {
		t.Fatalf("logged in as %q", s)
	}
	if !strings.Contains(c.text("project-list"), "Warehouse") {
		t.Fatalf("the colleague's projects:\n%s", c.bodyText())
	}
	if c.has("nav-users") {
		t.Error("the colleague (not an administrator) sees the Users link")
	}
	c.do("open the project", chromedp.Click(chromedp.CSS(".project-link")), chromedp.WaitVisible(chromedp.ID("role")))
	if r := c.text("role"); r != "standard" {
		t.Errorf("the colleague's role is %q, want standard", r)
	}
	if c.has("nav-settings") || c.has("nav-activity") {
		t.Error("a standard member sees the Settings or Activity link")
	}
	c.open(members)
	if c.has("grant-form") || c.has("invite-form") {
		t.Error("a standard member sees the grant or invite form")
	}

	// The administrator sees them as standard.
	b.open(members)
	row := b.eval("the colleague's row", `(() => { for (const tr of document.querySelectorAll("#members-table tr.member")) {
		if (tr.textContent.includes("colleague@example.test")) return tr.querySelector(".member-role").textContent } return "" })()`)
	if row != "standard" {
		t.Errorf("the members page lists the colleague as %q", row)
	}

	// The link works once.
	d := newBrowser(t)
	if st := d.open(link); st != http.StatusForbidden || !d.has("invite-invalid") || d.has("password") {
		t.Fatalf("the used link: status %d\n%s", st, d.bodyText())
	}
	if !strings.Contains(d.bodyText(), "ask your administrator for a new one") {
		t.Errorf("the used link's page says:\n%s", d.bodyText())
	}
	d.shot(shots, "invite-used.png")
}
