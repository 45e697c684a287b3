package console_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/consolelog"
	"github.com/sluice-dev/sluice/internal/engine"
)

// role is a kind of visitor of a project, weakest first: a role may do
// what every weaker one may.
type role int

const (
	roleOutsider role = iota
	roleStandard
	roleAdmin
	roleOwner
)

func (r role) String() string {
	return [...]string{"outsider", "standard", "admin", "owner"}[r]
}

// rolesWorld is one project with something on every page: a pipe and a
// flow, a finished run with a failed record, a console log, a connection
// and a service consumer; its owner, an administrator, a standard member
// and an outsider.
type rolesWorld struct {
	inst                      *apptest.Instance
	base, pid, name           string
	owner                     *apptest.Client // the owner's API session, to read back
	pipe, flow, run, log      string
	conn, consumer            string
	emails, passwords, userID map[role]string
	grantID                   map[role]string // a member's grant, which the members page names its row by
}

const rolesProject = "Roles Harbour Shop"

func newRolesWorld(t *testing.T, b *browser) *rolesWorld {
	t.Helper()
	inst := apptest.Start(t, apptest.Options{})
	in := filepath.Join(inst.App.Config.FilesDir, "in", "orders.ndjson")
	if err := os.MkdirAll(filepath.Dir(in), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, []byte("{\"id\":1,\"total\":5}\n{\"id\":2,\"total\":500}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	setupInBrowser(t, b, inst)
	w := &rolesWorld{inst: inst, base: inst.URL, name: rolesProject, owner: inst.Login(t, adminEmail, adminPassword),
		emails: map[role]string{roleOwner: adminEmail}, passwords: map[role]string{roleOwner: adminPassword}, userID: map[role]string{}, grantID: map[role]string{}}
	w.pid = w.api(t, "POST", "/api/v1/projects", map[string]any{"name": rolesProject}, http.StatusCreated).String("id")
	w.pipe = w.api(t, "POST", w.apiPath("/pipes"), map[string]any{"name": "Orders pipe"}, http.StatusCreated).String("id")
	w.flow = w.api(t, "POST", w.apiPath("/pipes/"+w.pipe+"/flows"), map[string]any{"definition": goodFlow}, http.StatusCreated).String("id")
	w.run = w.api(t, "POST", w.apiPath("/pipes/"+w.pipe+"/flows/"+w.flow+"/runs"), nil, http.StatusAccepted).String("id")
	waitRunDone(t, w.owner, w.pid, w.run)
	if r := w.api(t, "GET", w.apiPath("/runs/"+w.run), nil, http.StatusOK); r.Get("records_failed") == float64(0) {
		t.Fatalf("the run has no failed record: %s", r.Body)
	}
	w.conn = w.api(t, "POST", w.apiPath("/connections"), map[string]any{"name": "erp", "kind": "http",
		"settings": map[string]any{"base_url": "https://erp.example"}}, http.StatusCreated).String("id")
	w.consumer = w.api(t, "POST", w.apiPath("/consumers"), map[string]any{"name": "shop", "flows": []string{w.flow},
		"auth": map[string]any{"type": "hmac", "style": "github", "secret": "Roles-Webhook-Secret-0123456789abcdef"}}, http.StatusCreated).String("id")
	{
		// A console log, stored as a run with its console log on would.
		ctx := context.Background()
		r, err := inst.App.Store.Reader().RunByID(ctx, w.pid, w.run)
		if err != nil {
			t.Fatal(err)
		}
		capt := inst.App.ConsoleLogs.Begin(r, consolelog.Settings{Enabled: true, Capture: []string{consolelog.KindRecords}})
		capt.Step(engine.StepRecord{Step: "read", EntityID: "1", Value: map[string]any{"id": 1}})
		l, err := capt.Finish(ctx)
		if err != nil || l == nil {
			t.Fatalf("store a console log: %v", err)
		}
		w.log = l.ID
	}
	const pw = "Tidal-Lantern-Quarry-42"
	for _, u := range []struct {
		r     role
		email string
	}{{roleAdmin, "alice@example.com"}, {roleStandard, "sam@example.com"}, {roleOutsider, "otto@example.com"}} {
		w.emails[u.r], w.passwords[u.r] = u.email, pw
		w.userID[u.r] = inst.CreateUser(t, w.owner, u.email, pw, false)
		if u.r != roleOutsider {
			w.grantID[u.r] = w.api(t, "POST", w.apiPath("/members"), map[string]any{"user_id": w.userID[u.r], "role": u.r.String()}, http.StatusCreated).String("id")
		}
	}
	return w
}

func (w *rolesWorld) apiPath(suffix string) string { return "/api/v1/projects/" + w.pid + suffix }
func (w *rolesWorld) page(suffix string) string    { return "/projects/" + w.pid + suffix }

// api sends a request as the owner and wants status.
func (w *rolesWorld) api(t *testing.T, method, path string, body any, status int) *apptest.Response {
	t.Helper()
	r := w.owner.Do(t, method, path, body)
	if r.Status != status {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.Status, status, r.Body)
	}
	return r
}

// rolePage is a page of the project: what marks it as shown, and the
// least role that may open it (every member, unless minRole says more).
type rolePage struct {
	name, path, marker string
	minRole            role
	// controls are elements of the page with the least role that sees
	// them; a weaker role must not see them.
	controls map[string]role
}

// roleForge is a form post a weaker role's page never offers: the least
// role that may send it, and a read-back that nothing changed.
type roleForge struct {
	name      string
	path      string
	fields    func(w *rolesWorld, r role) url.Values
	minRole   role
	unchanged func(t *testing.T, w *rolesWorld)
}

func rolesPages(w *rolesWorld) []rolePage {
	flowPath := w.page("/pipes/" + w.pipe + "/flows/" + w.flow)
	return []rolePage{
		{name: "dashboard", path: w.page(""), marker: "records-chart", controls: map[string]role{
			"nav-dashboard": roleStandard, "nav-members": roleStandard, "nav-settings": roleAdmin, "nav-activity": roleAdmin}},
		{name: "pipes", path: w.page("/pipes"), marker: "pipe-" + w.pipe, controls: map[string]role{
			"pipe-form": roleStandard, "new-flow-" + w.pipe: roleStandard, "console-log-form-" + w.pipe: roleAdmin}},
		{name: "flow editor", path: flowPath, marker: "definition", controls: map[string]role{
			"flow-form": roleStandard, "save-flow": roleStandard, "run-now": roleStandard, "dryrun-form": roleStandard}},
		{name: "runs", path: w.page("/runs"), marker: "run-" + w.run},
		{name: "run detail", path: w.page("/runs/" + w.run), marker: "failures-table", controls: map[string]role{
			"reprocess-form": roleStandard, "delete-run": roleAdmin}},
		{name: "connections", path: w.page("/connections"), marker: "conn-" + w.conn, controls: map[string]role{
			"new-connection": roleAdmin, "connection-form": roleAdmin}},
		{name: "connection detail", path: w.page("/connections/" + w.conn), marker: "conn-facts", controls: map[string]role{
			"test-connection": roleStandard, "connection-form": roleAdmin, "delete-connection": roleAdmin}},
		{name: "consumers", path: w.page("/consumers"), marker: "consumer-" + w.consumer, controls: map[string]role{
			"consumer-form": roleAdmin}},
		{name: "consumer detail", path: w.page("/consumers/" + w.consumer), marker: "consumer-facts", controls: map[string]role{
			"consumer-edit": roleAdmin, "consumer-auth-edit": roleAdmin, "rotate-secret": roleAdmin, "delete-consumer": roleAdmin}},
		{name: "console logs", path: w.page("/console-logs"), marker: "log-" + w.log, controls: map[string]role{
			"download-" + w.log: roleStandard, "delete-" + w.log: roleAdmin}},
		{name: "members", path: w.page("/members"), marker: "members-table", controls: map[string]role{
			"grant-form": roleAdmin, "revoke-" + w.grantID[roleStandard]: roleAdmin, "transfer-form": roleOwner, "delete-form": roleOwner}},
		{name: "settings", path: w.page("/settings"), marker: "settings-form", minRole: roleAdmin},
		{name: "activity", path: w.page("/activity"), marker: "activity-table", minRole: roleAdmin},
	}
}

func rolesForges() []roleForge {
	none := func(*rolesWorld, role) url.Values { return url.Values{} }
	return []roleForge{
		{name: "create connection", path: "/connections", minRole: roleAdmin,
			fields: func(*rolesWorld, role) url.Values {
				return url.Values{"name": {"forged"}, "kind": {"http"}, "settings.base_url": {"https://forged.example"}}
			},
			unchanged: func(t *testing.T, w *rolesWorld) {
				if r := w.api(t, "GET", w.apiPath("/connections"), nil, http.StatusOK); strings.Contains(string(r.Body), "forged") {
					t.Errorf("a forged post created a connection: %s", r.Body)
				}
			}},
		{name: "delete connection", path: "/connections/{conn}/delete", minRole: roleAdmin, fields: none,
			unchanged: func(t *testing.T, w *rolesWorld) {
				w.api(t, "GET", w.apiPath("/connections/"+w.conn), nil, http.StatusOK)
			}},
		{name: "delete consumer", path: "/consumers/{consumer}/delete", minRole: roleAdmin, fields: none,
			unchanged: func(t *testing.T, w *rolesWorld) {
				w.api(t, "GET", w.apiPath("/consumers/"+w.consumer), nil, http.StatusOK)
			}},
		{name: "change consumer auth", path: "/consumers/{consumer}/auth", minRole: roleAdmin,
			fields: func(*rolesWorld, role) url.Values { return url.Values{"auth.style": {"shopify"}} },
			unchanged: func(t *testing.T, w *rolesWorld) {
				if s := w.api(t, "GET", w.apiPath("/consumers/"+w.consumer), nil, http.StatusOK).String("auth.style"); s != "github" {
					t.Errorf("a forged post changed the consumer's style to %q", s)
				}
			}},
		{name: "grant access", path: "/members", minRole: roleAdmin,
			fields: func(w *rolesWorld, r role) url.Values {
				return url.Values{"user": {w.emails[roleOutsider]}, "role": {"admin"}}
			},
			unchanged: func(t *testing.T, w *rolesWorld) {
				if r := w.api(t, "GET", w.apiPath("/members"), nil, http.StatusOK); strings.Contains(string(r.Body), w.emails[roleOutsider]) {
					t.Errorf("a forged grant gave the outsider access: %s", r.Body)
				}
			}},
		{name: "change settings", path: "/settings", minRole: roleAdmin,
			fields: func(*rolesWorld, role) url.Values { return url.Values{"time_zone": {"Asia/Tokyo"}} },
			unchanged: func(t *testing.T, w *rolesWorld) {
				if tz := w.api(t, "GET", w.apiPath(""), nil, http.StatusOK).String("settings.time_zone"); tz != "UTC" {
					t.Errorf("a forged post changed the time zone to %q", tz)
				}
			}},
		{name: "delete run", path: "/runs/{run}/delete", minRole: roleAdmin, fields: none,
			unchanged: func(t *testing.T, w *rolesWorld) { w.api(t, "GET", w.apiPath("/runs/"+w.run), nil, http.StatusOK) }},
		{name: "delete console log", path: "/console-logs/{log}/delete", minRole: roleAdmin, fields: none,
			unchanged: func(t *testing.T, w *rolesWorld) {
				if r := w.api(t, "GET", w.apiPath("/console-logs"), nil, http.StatusOK); !strings.Contains(string(r.Body), w.log) {
					t.Error("a forged post deleted the console log")
				}
			}},
		{name: "transfer ownership", path: "/transfer", minRole: roleOwner,
			fields: func(w *rolesWorld, r role) url.Values {
				// The sender's own password: only the role stops it.
				return url.Values{"user_id": {w.userID[roleAdmin]}, "password": {w.passwords[r]}}
			},
			unchanged: func(t *testing.T, w *rolesWorld) {
				if o := w.api(t, "GET", w.apiPath(""), nil, http.StatusOK).String("owner.email"); o != adminEmail {
					t.Errorf("a forged transfer made %s the owner", o)
				}
			}},
		{name: "delete project", path: "/delete", minRole: roleOwner,
			fields:    func(w *rolesWorld, r role) url.Values { return url.Values{"password": {w.passwords[r]}} },
			unchanged: func(t *testing.T, w *rolesWorld) { w.api(t, "GET", w.apiPath(""), nil, http.StatusOK) }},
	}
}

// forgePath fills a forge's path with the world's IDs.
func (w *rolesWorld) forgePath(p string) string {
	return w.page(strings.NewReplacer("{conn}", w.conn, "{consumer}", w.consumer, "{run}", w.run, "{log}", w.log).Replace(p))
}

// TestProjectPagesByRoleInBrowser opens the same project as its owner, an
// administrator, a standard member and an outsider: every main page, what
// each role sees on it, and form posts each role's pages never offer,
// sent from its own browser with its own CSRF token — refused with 403
// (404 for the outsider) and changing nothing. Adding a page or a
// role-gated form is adding a row to rolesPages or rolesForges.
func TestProjectPagesByRoleInBrowser(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	w := newRolesWorld(t, b)
	shots := shotsDir(t)
	pages := rolesPages(w)
	forges := rolesForges()

	for i, r := range []role{roleOwner, roleAdmin, roleStandard, roleOutsider} {
		if i == 0 {
			b.open(w.base + "/") // the setup session is the owner's
		} else {
			b.open(w.base + "/")
			b.submit("logout")
			b.login(w.base, w.emails[r], w.passwords[r])
		}

		// The projects list shows the project to members only.
		b.open(w.base + "/projects")
		if listed := strings.Contains(b.bodyText(), rolesProject); listed != (r != roleOutsider) {
			t.Errorf("%s: the projects list shows the project = %v", r, listed)
		}

		for _, p := range pages {
			st := b.open(w.base + p.path)
			switch {
			case r == roleOutsider:
				if st != http.StatusNotFound {
					t.Errorf("%s opens %s: status %d, want 404", r, p.name, st)
				}
				if body := b.bodyText(); strings.Contains(body, rolesProject) || strings.Contains(body, "Orders pipe") || b.has(p.marker) {
					t.Errorf("%s's 404 page for %s shows the project:\n%s", r, p.name, body)
				}
				if b.has("role") {
					t.Errorf("%s's 404 page for %s shows a role in the project", r, p.name)
				}
				continue
			case r < p.minRole:
				if st != http.StatusForbidden {
					t.Errorf("%s opens %s: status %d, want 403", r, p.name, st)
				}
				if b.has(p.marker) {
					t.Errorf("%s's 403 page for %s shows the page", r, p.name)
				}
				continue
			}
			if st != http.StatusOK {
				t.Errorf("%s opens %s: status %d, want 200; page:\n%s", r, p.name, st, b.bodyText())
				continue
			}
			if !b.has(p.marker) {
				t.Errorf("%s's %s page has no #%s:\n%s", r, p.name, p.marker, b.bodyText())
			}
			if got := b.text("role"); got != r.String() {
				t.Errorf("%s's %s page names the role %q", r, p.name, got)
			}
			for id, least := range p.controls {
				if seen := b.has(id); seen != (r >= least) {
					t.Errorf("%s on %s: #%s shown = %v, want %v (from %s up)", r, p.name, id, seen, r >= least, least)
				}
			}
			if p.name == "dashboard" {
				b.shot(shots, "dashboard-"+r.String()+".png")
			}
		}
		if r == roleStandard {
			// The standard member's run page offers reprocessing, and
			// the consumer's auth settings are shown read-only.
			b.open(w.base + w.page("/consumers/"+w.consumer))
			if s := b.text("consumer-style"); s != "github" {
				t.Errorf("the standard member sees the consumer's style as %q", s)
			}
		}

		// Forged posts: from a page of this user's own session, with its
		// own CSRF token.
		for _, f := range forges {
			if r >= f.minRole {
				continue
			}
			if r == roleOutsider {
				b.open(w.base + "/projects")
			} else {
				b.open(w.base + w.page(""))
			}
			want := int64(http.StatusForbidden)
			if r == roleOutsider {
				want = http.StatusNotFound
			}
			if st := b.forgeWith(w.forgePath(f.path), f.fields(w, r)); st != want {
				t.Errorf("%s's forged %s: status %d, want %d; page:\n%s", r, f.name, st, want, b.bodyText())
			}
			// The role refused it, not the CSRF or origin guard (which
			// answer 403 too): the page says which role.
			if e := b.text("error"); strings.Contains(strings.ToLower(e), "csrf") || strings.Contains(e, "cross-origin") ||
				r != roleOutsider && !strings.Contains(e, r.String()) {
				t.Errorf("%s's forged %s was refused for another reason: %q", r, f.name, e)
			}
			if r == roleOutsider && strings.Contains(b.bodyText(), rolesProject) {
				t.Errorf("the outsider's refused %s names the project", f.name)
			}
			f.unchanged(t, w)
		}
	}
}
