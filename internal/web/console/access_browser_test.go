package console_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sluice-dev/sluice/internal/app/apptest"
)

// accessWorld is an instance whose setup account owns one project.
type accessWorld struct {
	inst  *apptest.Instance
	base  string
	owner *apptest.Client
	pid   string
}

func newAccessWorld(t *testing.T, b *browser) *accessWorld {
	t.Helper()
	inst := apptest.Start(t, apptest.Options{})
	setupInBrowser(t, b, inst)
	w := &accessWorld{inst: inst, base: inst.URL, owner: inst.Login(t, adminEmail, adminPassword)}
	r := w.owner.Do(t, "POST", "/api/v1/projects", map[string]any{"name": "Shop"})
	if r.Status != http.StatusCreated {
		t.Fatalf("create project: %d %s", r.Status, r.Body)
	}
	w.pid = r.String("id")
	return w
}

// page is the console path of a page of the project.
func (w *accessWorld) page(suffix string) string { return w.base + "/projects/" + w.pid + suffix }

// project reads the project through the API as its owner.
func (w *accessWorld) project(t *testing.T) *apptest.Response {
	t.Helper()
	r := w.owner.Do(t, "GET", "/api/v1/projects/"+w.pid, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("owner reads the project: %d %s", r.Status, r.Body)
	}
	return r
}

// roles are the project's members' roles by email, through the API.
func (w *accessWorld) roles(t *testing.T) map[string]string {
	t.Helper()
	r := w.owner.Do(t, "GET", "/api/v1/projects/"+w.pid+"/members", nil)
	out := map[string]string{}
	list, _ := r.Get("members").([]any)
	for _, m := range list {
		m, _ := m.(map[string]any)
		email, _ := m["email"].(string)
		role, _ := m["role"].(string)
		out[email] = role
	}
	return out
}

// forgeWith posts a form the page never offered, with the page's own CSRF
// token and the given fields, and returns the status of the answer.
func (b *browser) forgeWith(action string, fields url.Values) int64 {
	b.t.Helper()
	var adds strings.Builder
	for k, vs := range fields {
		for _, v := range vs {
			fmt.Fprintf(&adds, "add(%q, %q);\n", k, v)
		}
	}
	js := fmt.Sprintf(`(function () {
  var f = document.createElement('form'); f.method = 'post'; f.action = %q;
  function add(n, v) { var i = document.createElement('input'); i.type = 'hidden'; i.name = n; i.value = v; f.appendChild(i); }
  add('csrf_token', document.querySelector('input[name="csrf_token"]').value);
  %s
  document.body.appendChild(f); f.submit();
})()`, action, adds.String())
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Evaluate[chromedp.Void](js))
	if err != nil {
		b.t.Fatalf("forged post to %s: %v", action, err)
	}
	return resp.Status
}

// TestMembersByRoleInBrowser: the owner grants one user standard and
// another admin through the form, is told why a grant, a transfer and a
// delete were refused, and finds the grants in the activity log. The
// admin sees the members and may manage them but not transfer or delete;
// the standard member sees neither Settings nor Activity, gets 403 for
// both and for a forged settings post; an outsider gets 404.
func TestMembersByRoleInBrowser(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	w := newAccessWorld(t, b)
	shots := shotsDir(t)
	const pw = "Tidal-Lantern-Quarry-42"
	w.inst.CreateUser(t, w.owner, "sam@example.com", pw, false)
	w.inst.CreateUser(t, w.owner, "alice@example.com", pw, false)
	w.inst.CreateUser(t, w.owner, "otto@example.com", pw, false)

	// Only the owner so far; the page says how to add someone.
	if st := b.open(w.page("/members")); st != http.StatusOK {
		t.Fatalf("members page: status %d", st)
	}
	if s := b.text("members-empty"); !strings.Contains(s, "Grant a colleague") {
		t.Errorf("the empty members page says %q", s)
	}
	b.expectStyled()

	// An email nobody has is refused next to the field.
	b.typeInto("grant-user", "nobody@example.com")
	if st := b.submit("grant-submit"); st != http.StatusUnprocessableEntity {
		t.Errorf("grant to an unknown email: status %d, want 422", st)
	}
	if s := b.text("error-grant-user"); !strings.Contains(s, "not the email of a Sluice user") {
		t.Errorf("unknown email: the field says %q", s)
	}
	if v := b.eval("kept email", `document.getElementById('grant-user').value`); v != "nobody@example.com" {
		t.Errorf("after the refusal the field holds %q", v)
	}

	// Sam as standard (the form's default), Alice as admin.
	b.typeInto("grant-user", "sam@example.com")
	if st := b.submit("grant-submit"); st != http.StatusOK {
		t.Fatalf("grant sam: status %d; page:\n%s", st, b.bodyText())
	}
	b.expectPage(w.base, "/projects/"+w.pid+"/members?notice=granted")
	b.typeInto("grant-user", "alice@example.com")
	b.do("choose admin", chromedp.SetValue(chromedp.ID("grant-role"), "admin"))
	if st := b.submit("grant-submit"); st != http.StatusOK {
		t.Fatalf("grant alice: status %d; page:\n%s", st, b.bodyText())
	}
	if got := w.roles(t); got["sam@example.com"] != "standard" || got["alice@example.com"] != "admin" {
		t.Errorf("roles after the grants: %v", got)
	}

	// A group, chosen by name from the list: its members get the role.
	if !b.has("grant-no-groups") {
		t.Error("with no group yet the grant form does not say how to make one")
	}
	r := w.owner.Do(t, "POST", "/api/v1/groups", map[string]any{"name": "ERP team"})
	if r.Status != http.StatusCreated {
		t.Fatalf("create group: %d %s", r.Status, r.Body)
	}
	gid := r.String("id")
	b.open(w.page("/members"))
	if got := b.eval("group options", `Array.from(document.querySelectorAll("#grant-group option")).map(function (o) { return o.textContent }).join("|")`); !strings.Contains(got, "ERP team") {
		t.Fatalf("the group list offers %q", got)
	}
	b.do("choose the group", chromedp.SetValue(chromedp.ID("grant-group"), gid), chromedp.SetValue(chromedp.ID("grant-role"), "admin"))
	if st := b.submit("grant-submit"); st != http.StatusOK {
		t.Fatalf("grant the group: status %d; page:\n%s", st, b.bodyText())
	}
	members := w.owner.Do(t, "GET", "/api/v1/projects/"+w.pid+"/members", nil)
	if !strings.Contains(string(members.Body), `"group_id":"`+gid+`"`) || !strings.Contains(b.text("members-table"), "ERP team") {
		t.Errorf("after granting the group: %s", members.Body)
	}
	if s := b.text("members-table"); !strings.Contains(s, "sam@example.com") || !strings.Contains(s, "alice@example.com") {
		t.Errorf("the members table shows %q", s)
	}
	// Granting Sam again says why not.
	b.typeInto("grant-user", "sam@example.com")
	if st := b.submit("grant-submit"); st != http.StatusConflict {
		t.Errorf("second grant to sam: status %d, want 409", st)
	}
	if s := b.text("error-grant"); !strings.Contains(s, "already a member") {
		t.Errorf("second grant: the form says %q", s)
	}

	// Transfer and delete need the owner's password: a wrong one is
	// refused next to the field and changes nothing.
	b.open(w.page("/members"))
	b.typeInto("transfer-password", "not my password")
	if st := b.submit("transfer-submit"); st != http.StatusForbidden {
		t.Errorf("transfer with a wrong password: status %d, want 403", st)
	}
	if s := b.text("error-transfer-password"); !strings.Contains(s, "does not match") {
		t.Errorf("wrong transfer password: the field says %q", s)
	}
	b.typeInto("delete-password", "not my password")
	if st := b.submit("delete-submit"); st != http.StatusForbidden {
		t.Errorf("delete with a wrong password: status %d, want 403", st)
	}
	if s := b.text("error-delete-password"); !strings.Contains(s, "does not match") {
		t.Errorf("wrong delete password: the field says %q", s)
	}
	if p := w.project(t); p.String("owner.email") != adminEmail {
		t.Errorf("after the refused transfer the owner is %s", p.String("owner.email"))
	}
	b.open(w.page("/members"))
	b.shot(shots, "members.png")

	// The activity log shows the three grants, and filters by action.
	b.do("open activity", chromedp.Click(chromedp.CSS("#nav-activity")), chromedp.WaitVisible(chromedp.CSS("#activity-filters")))
	if n := b.count("#activity-table tr.event"); n < 4 {
		t.Errorf("the activity log lists %d events, want at least the project and three grants", n)
	}
	b.do("filter grants", chromedp.SetValue(chromedp.ID("filter-action"), "member.grant"))
	if st := b.submit("filter-submit"); st != http.StatusOK {
		t.Fatalf("filter the activity log: status %d", st)
	}
	if n := b.count("#activity-table tr.event"); n != 3 {
		t.Errorf("the activity log lists %d member.grant events, want 3:\n%s", n, b.bodyText())
	}
	if s := b.text("activity-table"); !strings.Contains(s, "sam@example.com") || !strings.Contains(s, "alice@example.com") || !strings.Contains(s, "ERP team") {
		t.Errorf("the grant events show %q", s)
	}
	b.shot(shots, "activity.png")
	b.typeInto("filter-since", "yesterday")
	if st := b.submit("filter-submit"); st != http.StatusBadRequest {
		t.Errorf("a since that is no date: status %d, want 400", st)
	}
	if !b.has("error-since") {
		t.Error("a since that is no date shows no error next to the field")
	}

	// The admin manages members but may not transfer or delete.
	b.submit("logout")
	b.login(w.base, "alice@example.com", pw)
	b.open(w.page("/members"))
	if b.text("role") != "admin" {
		t.Errorf("alice's role shows %q", b.text("role"))
	}
	if !b.has("members-table") || !b.has("grant-form") {
		t.Error("the admin sees no members or no grant form")
	}
	if b.has("transfer-form") || b.has("delete-form") {
		t.Error("the admin sees the transfer or delete form")
	}
	if !b.has("nav-settings") || !b.has("nav-activity") {
		t.Error("the admin sees no Settings or Activity link")
	}

	// The standard member sees the members only.
	b.submit("logout")
	b.login(w.base, "sam@example.com", pw)
	if st := b.open(w.page("/members")); st != http.StatusOK {
		t.Fatalf("standard member opens members: status %d", st)
	}
	if !b.has("members-table") {
		t.Error("the standard member sees no members")
	}
	if b.has("grant-form") || b.has("transfer-form") || b.has("delete-form") || b.count("#members-table button") != 0 {
		t.Error("the standard member sees controls to change access")
	}
	if b.has("nav-settings") || b.has("nav-activity") {
		t.Error("the standard member sees the Settings or Activity link")
	}
	for _, p := range []string{"/settings", "/activity"} {
		if st := b.open(w.page(p)); st != http.StatusForbidden {
			t.Errorf("standard member opens %s: status %d, want 403", p, st)
		}
		if b.has("settings-form") || b.has("activity-table") {
			t.Errorf("the 403 page of %s shows the page", p)
		}
	}
	b.open(w.page("/members"))
	if st := b.forgeWith("/projects/"+w.pid+"/settings", url.Values{"time_zone": {"Asia/Tokyo"}}); st != http.StatusForbidden {
		t.Errorf("a standard member's forged settings post: status %d, want 403", st)
	}
	if tz := w.project(t).String("settings.time_zone"); tz != "UTC" {
		t.Errorf("after the forged post the time zone is %q, want UTC", tz)
	}
	b.open(w.page("/members"))
	if st := b.forgeWith("/projects/"+w.pid+"/members", url.Values{"user": {"otto@example.com"}, "role": {"admin"}}); st != http.StatusForbidden {
		t.Errorf("a standard member's forged grant: status %d, want 403", st)
	}
	if _, ok := w.roles(t)["otto@example.com"]; ok {
		t.Error("the forged grant gave otto access")
	}

	// An outsider: 404 for every page, like a project that does not exist.
	b.open(w.base + "/")
	b.submit("logout")
	b.login(w.base, "otto@example.com", pw)
	for _, p := range []string{"/members", "/settings", "/activity"} {
		if st := b.open(w.page(p)); st != http.StatusNotFound {
			t.Errorf("outsider opens %s: status %d, want 404", p, st)
		}
		if b.has("members-table") || strings.Contains(b.bodyText(), "Shop") {
			t.Errorf("outsider's page %s shows the project:\n%s", p, b.bodyText())
		}
	}
}

// TestSettingsInBrowser: the settings page shows the plan and its
// limits; a retention longer than the plan is refused next to its field
// and changes nothing; a valid time zone saves. The page fits a phone.
func TestSettingsInBrowser(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	w := newAccessWorld(t, b)
	shots := shotsDir(t)

	b.open(w.page(""))
	b.do("open settings", chromedp.Click(chromedp.CSS("#nav-settings")), chromedp.WaitVisible(chromedp.CSS("#settings-form")))
	b.expectStyled()
	plan := w.project(t)
	if s := b.text("plan-name"); s != plan.String("plan.name") {
		t.Errorf("the page shows plan %q, want %q", s, plan.String("plan.name"))
	}
	days, err := strconv.Atoi(b.text("plan-run-log-days"))
	if err != nil || days < 1 {
		t.Fatalf("the plan's run-log days read %q", b.text("plan-run-log-days"))
	}

	// Longer than the plan: refused beside the field, nothing saved.
	b.typeInto("retention_run_log_days", strconv.Itoa(days+1))
	b.typeInto("time_zone", "Europe/Berlin")
	if st := b.submit("settings-save"); st != http.StatusUnprocessableEntity {
		t.Errorf("retention over the plan: status %d, want 422", st)
	}
	if s := b.text("error-retention_run_log_days"); !strings.Contains(s, strconv.Itoa(days)) || !strings.Contains(s, "between") {
		t.Errorf("retention over the plan: the field says %q", s)
	}
	if v := b.eval("kept days", `document.getElementById('retention_run_log_days').value`); v != strconv.Itoa(days+1) {
		t.Errorf("after the refusal the field holds %q", v)
	}
	if p := w.project(t); p.String("settings.time_zone") != "UTC" || p.Get("settings.retention.run_log_days") != float64(0) {
		t.Errorf("a refused save changed the settings: %s", p.Body)
	}
	b.shot(shots, "settings-problem.png")

	// A time zone that does not exist, then a good one.
	b.typeInto("retention_run_log_days", "0")
	b.typeInto("time_zone", "Mars/Olympus")
	if st := b.submit("settings-save"); st != http.StatusUnprocessableEntity {
		t.Errorf("unknown time zone: status %d, want 422", st)
	}
	if s := b.text("error-time_zone"); !strings.Contains(s, "not an IANA time zone") {
		t.Errorf("unknown time zone: the field says %q", s)
	}
	b.typeInto("time_zone", "Europe/Berlin")
	if st := b.submit("settings-save"); st != http.StatusOK {
		t.Fatalf("save settings: status %d; page:\n%s", st, b.bodyText())
	}
	b.expectPage(w.base, "/projects/"+w.pid+"/settings?notice=saved")
	if tz := w.project(t).String("settings.time_zone"); tz != "Europe/Berlin" {
		t.Errorf("after saving the time zone is %q", tz)
	}
	if v := b.eval("saved zone", `document.getElementById('time_zone').value`); v != "Europe/Berlin" {
		t.Errorf("the saved page shows time zone %q", v)
	}
	b.shot(shots, "settings.png")

	// On a phone's width nothing scrolls sideways.
	b.do("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	for _, p := range []string{"/settings", "/members", "/activity"} {
		b.open(w.page(p))
		if ws := strings.Fields(b.eval("widths", `document.documentElement.scrollWidth + " " + document.documentElement.clientWidth`)); len(ws) != 2 || ws[0] != ws[1] {
			t.Errorf("%s on a phone: scroll width and viewport width are %v, want them equal", p, ws)
			t.Logf("wider than the screen: %s", b.eval("wide", `Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > 391).slice(0, 8).map(e => e.tagName + '#' + e.id + '.' + e.className + ':' + Math.round(e.getBoundingClientRect().right)).join(' ')`))
		}
	}
	b.shot(shots, "settings-phone.png")
}
