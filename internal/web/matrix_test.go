package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

// The permission matrix, black-box: one row per route of the server, each
// with the status every principal must get (DESIGN §4 and issue 3). The
// test walks the server's route table, so a route added later without a
// row here fails it.
//
// API keys: every row's expectations hold for the API key of each user
// exactly as for that user's session, unless the row says otherwise in
// keyWant. This was tried on every route, including the ones where a key
// could plausibly differ: logging out through the API with a key is
// refused (400: a key is not a session; revoke it with DELETE
// /api/v1/me/api-keys/{id}), and the key keeps working; the console's
// logout form with a key ends nothing and redirects;
// DELETE /api/v1/me/sessions with a key ends every session of its user;
// the console's GET / and GET /login treat a key like a session.

// mxFreshness is the state a row's cells need of their own, so that no cell
// depends on another.
type mxFreshness int

const (
	// mxShared: the request changes nothing another cell can see.
	mxShared mxFreshness = iota
	// mxFreshProject: the request may change or delete the project, so each
	// cell gets a new one with the full membership layout.
	mxFreshProject
	// mxFreshUser: the request consumes or adds to the acting user's
	// sessions, keys, password or second factor, so each cell acts as a
	// new user of its principal's kind (in a new project, in a new group
	// for the group kinds). Anonymous cells have no user to consume.
	mxFreshUser
)

// mxCall is the concrete request a cell sends. body is nil, a JSON value, or
// url.Values for a console form post. check, when set, runs once the
// status is right: it checks the effect of an allowed request and that a
// refused one changed nothing.
type mxCall struct {
	path  string
	body  any
	check func(r *apptest.Response)
}

// mxRow is one route: how to build its request for a cell, and the expected
// status of every kind of principal.
type mxRow struct {
	route string // "METHOD /pattern", exactly as in the route table
	fresh mxFreshness
	req   func(c *mxCell) mxCall
	want  mxExpect
	// keyWant, when set, is what API-key principals expect instead.
	keyWant *mxExpect
	// instanceAdmin marks a project route that also needs an instance
	// administrator (inviting a new account and granting it a role): a
	// project role that allows the action is still refused (403).
	instanceAdmin bool
}

func mxGet(path string) func(c *mxCell) mxCall {
	return func(*mxCell) mxCall { return mxCall{path: path} }
}

func mxGetProject(suffix string) func(c *mxCell) mxCall {
	return func(c *mxCell) mxCall { return mxCall{path: c.project(suffix)} }
}

var mxSessionCookie = httpx.SessionCookieName(false)

func matrixRows() []mxRow {
	return []mxRow{
		// Probes and metrics: public, the same for everyone.
		// A dynamic call takes a service consumer's credentials only: a
		// user's session or API key is no credential there, whoever the
		// user is, and no run starts.
		{route: "POST /call/{project}/{flow}", req: func(c *mxCell) mxCall {
			return mxCall{path: "/call/" + c.w.project + "/" + c.w.flow, body: map[string]any{"id": 1}, check: func(r *apptest.Response) {
				if r.Header.Get("WWW-Authenticate") == "" || r.Header.Get("X-Sluice-Run-Id") != "" {
					c.t.Errorf("refused call: WWW-Authenticate %q, run %q", r.Header.Get("WWW-Authenticate"), r.Header.Get("X-Sluice-Run-Id"))
				}
			}}
		}, want: mxExpect{Owner: 401, Admin: 401, Standard: 401, GroupAdmin: 401, GroupStandard: 401, Outsider: 401, InstanceAdmin: 401, Anon: 401}},
		{route: "GET /healthz", req: mxGet("/healthz"),
			want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 200, InstanceAdmin: 200, Anon: 200}},
		{route: "GET /readyz", req: mxGet("/readyz"),
			want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 200, InstanceAdmin: 200, Anon: 200}},
		{route: "GET /metrics", req: mxGet("/metrics"),
			want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 200, InstanceAdmin: 200, Anon: 200}},

		// Setup is public but done: a valid-looking request is a conflict
		// for everyone. Only anonymous could ever succeed (before setup no
		// user exists to hold a session or key): setup_test.go covers that.
		{route: "POST /api/v1/setup", req: func(c *mxCell) mxCall {
			email := fmt.Sprintf("late-%d@example.com", c.fx.next())
			return mxCall{path: "/api/v1/setup", body: map[string]any{"token": "a-guessed-token", "email": email, "password": matrixPW, "name": "Late"},
				check: func(*apptest.Response) { c.noUser(email) }}
		}, want: mxExpect{Owner: 409, Admin: 409, Standard: 409, GroupAdmin: 409, GroupStandard: 409, Outsider: 409, InstanceAdmin: 409, Anon: 409}},

		// Logging in is public: whoever sends valid credentials gets a new
		// session (a session or key already held lends nothing).
		{route: "POST /api/v1/auth/login", fresh: mxFreshUser, req: func(c *mxCell) mxCall {
			a := c.credentials()
			return mxCall{path: "/api/v1/auth/login", body: map[string]any{"email": a.email, "password": a.password},
				check: func(r *apptest.Response) { c.newSessionCookie(r) }}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 200, InstanceAdmin: 200, Anon: 200}},
		{route: "POST /api/v1/auth/logout", fresh: mxFreshUser, req: func(c *mxCell) mxCall {
			return mxCall{path: "/api/v1/auth/logout", check: func(r *apptest.Response) { c.loggedOut() }}
		}, want: mxExpect{Owner: 204, Admin: 204, Standard: 204, GroupAdmin: 204, GroupStandard: 204, Outsider: 204, InstanceAdmin: 204, Anon: 401},
			keyWant: &mxExpect{Owner: 400, Admin: 400, Standard: 400, GroupAdmin: 400, GroupStandard: 400, Outsider: 400, InstanceAdmin: 400, Anon: 401}},

		// The flow format's JSON Schema: public, the same for everyone.
		{route: "GET /api/v1/flow-schema.json", req: mxGet("/api/v1/flow-schema.json"),
			want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 200, InstanceAdmin: 200, Anon: 200}},

		// The caller's own account: any user, never anonymous.
		{route: "GET /api/v1/me", req: mxGet("/api/v1/me"),
			want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 200, InstanceAdmin: 200, Anon: 401}},
		{route: "POST /api/v1/me/password", fresh: mxFreshUser, req: func(c *mxCell) mxCall {
			a := c.credentials()
			const next = "Granite-Meadow-Lantern-58"
			return mxCall{path: "/api/v1/me/password", body: map[string]any{"current_password": a.password, "new_password": next},
				check: func(r *apptest.Response) {
					if r.Status == http.StatusNoContent {
						changed := *a
						changed.password = next
						c.fx.login(c.t, &changed)
					}
				}}
		}, want: mxExpect{Owner: 204, Admin: 204, Standard: 204, GroupAdmin: 204, GroupStandard: 204, Outsider: 204, InstanceAdmin: 204, Anon: 401}},
		{route: "GET /api/v1/me/sessions", req: mxGet("/api/v1/me/sessions"),
			want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 200, InstanceAdmin: 200, Anon: 401}},
		{route: "DELETE /api/v1/me/sessions", fresh: mxFreshUser, req: func(c *mxCell) mxCall {
			var other *apptest.Client
			if c.me() != nil {
				other, _ = c.fx.login(c.t, c.me())
			}
			return mxCall{path: "/api/v1/me/sessions", check: func(r *apptest.Response) {
				if r.Status != http.StatusOK {
					return
				}
				c.wantGet(other, "/api/v1/me", 401, "another session after revoking the others")
				// A session keeps itself; a key, having none, ends them all.
				still := map[bool]int{false: 200, true: 401}[c.p.viaKey]
				c.wantGet(c.fx.session(c.t, c.me()), "/api/v1/me", still, "the caller's own session")
			}}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 200, InstanceAdmin: 200, Anon: 401}},
		{route: "DELETE /api/v1/me/sessions/{id}", fresh: mxFreshUser, req: func(c *mxCell) mxCall {
			if c.me() == nil {
				_, id := c.fx.login(c.t, c.w.users[mxOutsider])
				return mxCall{path: "/api/v1/me/sessions/" + id}
			}
			other, id := c.fx.login(c.t, c.me())
			return mxCall{path: "/api/v1/me/sessions/" + id, check: func(*apptest.Response) {
				c.wantGet(other, "/api/v1/me", 401, "the revoked session")
			}}
		}, want: mxExpect{Owner: 204, Admin: 204, Standard: 204, GroupAdmin: 204, GroupStandard: 204, Outsider: 204, InstanceAdmin: 204, Anon: 401}},
		{route: "GET /api/v1/me/api-keys", req: mxGet("/api/v1/me/api-keys"),
			want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 200, InstanceAdmin: 200, Anon: 401}},
		{route: "POST /api/v1/me/api-keys", req: func(c *mxCell) mxCall {
			return mxCall{path: "/api/v1/me/api-keys", body: map[string]any{"name": "matrix cell", "expires_in_days": 1}}
		}, want: mxExpect{Owner: 201, Admin: 201, Standard: 201, GroupAdmin: 201, GroupStandard: 201, Outsider: 201, InstanceAdmin: 201, Anon: 401}},
		{route: "DELETE /api/v1/me/api-keys/{id}", fresh: mxFreshUser, req: func(c *mxCell) mxCall {
			token, id := c.fx.newKey(c.t, c.credentials())
			return mxCall{path: "/api/v1/me/api-keys/" + id, check: func(r *apptest.Response) {
				revoked := map[bool]int{false: 200, true: 401}[r.Status == http.StatusNoContent]
				c.wantGet(c.fx.keyClient(&mxUser{key: token}), "/api/v1/me", revoked, "the key named in the path")
			}}
		}, want: mxExpect{Owner: 204, Admin: 204, Standard: 204, GroupAdmin: 204, GroupStandard: 204, Outsider: 204, InstanceAdmin: 204, Anon: 401}},
		{route: "POST /api/v1/me/totp", fresh: mxFreshUser, req: func(c *mxCell) mxCall {
			return mxCall{path: "/api/v1/me/totp", body: map[string]any{"password": c.credentials().password}}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 200, InstanceAdmin: 200, Anon: 401}},
		{route: "POST /api/v1/me/totp/confirm", fresh: mxFreshUser, req: func(c *mxCell) mxCall {
			code := "123456"
			if c.me() != nil {
				code = totpCode(c.t, c.fx.beginTOTP(c.t, c.me()), c.fx.inst.Clock.Now())
			}
			return mxCall{path: "/api/v1/me/totp/confirm", body: map[string]any{"code": code}}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 200, InstanceAdmin: 200, Anon: 401}},
		{route: "POST /api/v1/me/totp/disable", fresh: mxFreshUser, req: func(c *mxCell) mxCall {
			if c.me() != nil {
				c.fx.enableTOTP(c.t, c.me())
			}
			return mxCall{path: "/api/v1/me/totp/disable", body: map[string]any{"password": c.credentials().password}}
		}, want: mxExpect{Owner: 204, Admin: 204, Standard: 204, GroupAdmin: 204, GroupStandard: 204, Outsider: 204, InstanceAdmin: 204, Anon: 401}},
		{route: "POST /api/v1/me/totp/recovery-codes", fresh: mxFreshUser, req: func(c *mxCell) mxCall {
			if c.me() != nil {
				c.fx.enableTOTP(c.t, c.me())
			}
			return mxCall{path: "/api/v1/me/totp/recovery-codes", body: map[string]any{"password": c.credentials().password}}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 200, InstanceAdmin: 200, Anon: 401}},

		// Instance administration: the instance administrator only. Owning
		// or administering a project gives nothing here.
		{route: "GET /api/v1/users", req: mxGet("/api/v1/users"),
			want: mxExpect{Owner: 403, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 403, InstanceAdmin: 200, Anon: 401}},
		{route: "POST /api/v1/users", req: func(c *mxCell) mxCall {
			email := fmt.Sprintf("hire-%d@example.com", c.fx.next())
			return mxCall{path: "/api/v1/users", body: map[string]any{"email": email, "password": matrixPW, "name": "Hire", "admin": true},
				check: func(r *apptest.Response) {
					if r.Status == http.StatusCreated {
						c.wantUser(email)
					} else {
						c.noUser(email)
					}
				}}
		}, want: mxExpect{Owner: 403, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 403, InstanceAdmin: 201, Anon: 401}},
		{route: "PATCH /api/v1/users/{id}", req: func(c *mxCell) mxCall {
			target := c.fx.newUser(c.t, false)
			return mxCall{path: "/api/v1/users/" + target.id, body: map[string]any{"disabled": true}, check: func(r *apptest.Response) {
				if got := c.user(target.email).Disabled; got != (r.Status == http.StatusOK) {
					c.t.Errorf("target disabled = %v after status %d", got, r.Status)
				}
			}}
		}, want: mxExpect{Owner: 403, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 403, InstanceAdmin: 200, Anon: 401}},
		// Invitations (invitations_test.go): a new link is an instance
		// administrator's; accepting one is public, the token is the
		// credential (a session or key held lends nothing).
		{route: "POST /api/v1/users/{id}/invitation", req: func(c *mxCell) mxCall {
			id, _, _ := c.fx.invited(c.t)
			before := c.invitationHash(id)
			return mxCall{path: "/api/v1/users/" + id + "/invitation", check: func(r *apptest.Response) {
				if changed := c.invitationHash(id) != before; changed != (r.Status == http.StatusCreated) {
					c.t.Errorf("link replaced = %v after status %d", changed, r.Status)
				}
			}}
		}, want: mxExpect{Owner: 403, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 403, InstanceAdmin: 201, Anon: 401}},
		{route: "POST /api/v1/invitations/accept", req: func(c *mxCell) mxCall {
			_, email, token := c.fx.invited(c.t)
			return mxCall{path: "/api/v1/invitations/accept", body: map[string]any{"token": token, "password": matrixPW}, check: func(r *apptest.Response) {
				c.accepted(email, r.Status == http.StatusOK)
				if r.Status == http.StatusOK {
					c.newSessionCookie(r)
				}
			}}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 200, InstanceAdmin: 200, Anon: 200}},
		{route: "GET /api/v1/audit", req: mxGet("/api/v1/audit"),
			want: mxExpect{Owner: 403, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 403, InstanceAdmin: 200, Anon: 401}},
		{route: "GET /api/v1/audit/verify", req: mxGet("/api/v1/audit/verify"),
			want: mxExpect{Owner: 403, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 403, InstanceAdmin: 200, Anon: 401}},
		// The keyring: its status, and a rotation that adds a term and
		// queues the re-encryption of every stored secret.
		{route: "GET /api/v1/keys", req: func(c *mxCell) mxCall {
			return mxCall{path: "/api/v1/keys", check: func(r *apptest.Response) {
				if term, _ := r.Get("current_term").(float64); r.Status == http.StatusOK && term < 1 {
					c.t.Errorf("keyring status without a current term: %s", r.Body)
				}
			}}
		}, want: mxExpect{Owner: 403, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 403, InstanceAdmin: 200, Anon: 401}},
		{route: "POST /api/v1/keys/rotate", req: func(c *mxCell) mxCall {
			before := c.fx.inst.App.Keyring.CurrentTerm()
			return mxCall{path: "/api/v1/keys/rotate", check: func(r *apptest.Response) {
				term, _ := r.Get("term").(float64)
				if r.Status == http.StatusAccepted && int(term) <= before {
					c.t.Errorf("the rotation's term %v is not newer than %d", r.Get("term"), before)
				}
			}}
		}, want: mxExpect{Owner: 403, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 403, InstanceAdmin: 202, Anon: 401}},

		// The console's keys and instance activity pages, twins of the
		// rows above: the instance administrator's alone.
		{route: "GET /admin/keys", req: func(c *mxCell) mxCall {
			return mxCall{path: "/admin/keys", check: c.pageOrLogin("rotate-form")}
		}, want: mxExpect{Owner: 403, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 403, InstanceAdmin: 200, Anon: 303}},
		{route: "POST /admin/keys/rotate", req: func(c *mxCell) mxCall {
			before := c.fx.inst.App.Keyring.CurrentTerm()
			return mxCall{path: "/admin/keys/rotate", body: url.Values{"confirm": {"yes"}}, check: func(r *apptest.Response) {
				after := c.fx.inst.App.Keyring.CurrentTerm()
				if r.Status == http.StatusSeeOther && c.p.kind != mxAnon {
					c.redirectsTo(r, "/admin/keys?notice=rotated")
					if after <= before {
						c.t.Errorf("the term is %d after the rotation, was %d", after, before)
					}
				}
			}}
		}, want: mxExpect{Owner: 403, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 403, InstanceAdmin: 303, Anon: 303}},
		{route: "GET /admin/activity", req: func(c *mxCell) mxCall {
			return mxCall{path: "/admin/activity", check: c.pageOrLogin("activity-filters")}
		}, want: mxExpect{Owner: 403, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 403, InstanceAdmin: 200, Anon: 303}},
		{route: "POST /admin/activity/verify", req: func(c *mxCell) mxCall {
			return mxCall{path: "/admin/activity/verify", body: url.Values{}, check: c.pageOrLogin("The chain is intact")}
		}, want: mxExpect{Owner: 403, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 403, InstanceAdmin: 200, Anon: 303}},

		// Plans and group names are readable by every user (to pick a plan,
		// to know what a member entry refers to); groups are managed by the
		// instance administrator.
		{route: "GET /api/v1/plans", req: mxGet("/api/v1/plans"),
			want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 200, InstanceAdmin: 200, Anon: 401}},
		{route: "GET /api/v1/groups", req: mxGet("/api/v1/groups"),
			want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 200, InstanceAdmin: 200, Anon: 401}},
		// The console's group pages: the instance administrator's alone.
		// Users and invitations (console/users.go): the administrator's
		// page; the invited colleague's public page and form.
		{route: "GET /users", req: func(c *mxCell) mxCall { return mxCall{path: "/users", check: c.pageOrLogin("invite-form")} },
			want: mxExpect{Owner: 403, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 403, InstanceAdmin: 200, Anon: 303}},
		{route: "POST /users", req: func(c *mxCell) mxCall {
			email := fmt.Sprintf("page-invite-%d@example.com", c.fx.next())
			return mxCall{path: "/users", body: url.Values{"email": {email}, "name": {"Invited"}}, check: func(r *apptest.Response) {
				if r.Status == http.StatusCreated {
					c.wantUser(email)
					if !strings.Contains(string(r.Body), "/invite?token=") {
						c.t.Errorf("the page shows no link: %s", r.Body)
					}
				} else {
					c.noUser(email)
				}
			}}
		}, want: mxExpect{Owner: 403, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 403, InstanceAdmin: 201, Anon: 303}},
		{route: "POST /users/{id}/disable", req: func(c *mxCell) mxCall {
			target := c.fx.newUser(c.t, false)
			return mxCall{path: "/users/" + target.id + "/disable", body: url.Values{}, check: func(r *apptest.Response) {
				if got := c.user(target.email).Disabled; got != (r.Status == http.StatusSeeOther && c.p.kind != mxAnon) {
					c.t.Errorf("target disabled = %v after status %d", got, r.Status)
				}
			}}
		}, want: mxExpect{Owner: 403, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 403, InstanceAdmin: 303, Anon: 303}},
		{route: "POST /users/{id}/enable", req: func(c *mxCell) mxCall {
			target := c.fx.newUser(c.t, false)
			wantStatus(c.t, c.fx.root(c.t).Do(c.t, "PATCH", "/api/v1/users/"+target.id, map[string]any{"disabled": true}), http.StatusOK, "disable the target")
			return mxCall{path: "/users/" + target.id + "/enable", body: url.Values{}, check: func(r *apptest.Response) {
				if got := !c.user(target.email).Disabled; got != (r.Status == http.StatusSeeOther && c.p.kind != mxAnon) {
					c.t.Errorf("target enabled = %v after status %d", got, r.Status)
				}
			}}
		}, want: mxExpect{Owner: 403, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 403, InstanceAdmin: 303, Anon: 303}},
		{route: "POST /users/{id}/invitation", req: func(c *mxCell) mxCall {
			id, _, _ := c.fx.invited(c.t)
			before := c.invitationHash(id)
			return mxCall{path: "/users/" + id + "/invitation", body: url.Values{}, check: func(r *apptest.Response) {
				if changed := c.invitationHash(id) != before; changed != (r.Status == http.StatusCreated) {
					c.t.Errorf("link replaced = %v after status %d", changed, r.Status)
				}
			}}
		}, want: mxExpect{Owner: 403, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 403, InstanceAdmin: 201, Anon: 303}},
		{route: "GET /invite", req: func(c *mxCell) mxCall {
			_, email, token := c.fx.invited(c.t)
			return mxCall{path: "/invite?token=" + token, check: func(r *apptest.Response) {
				if !strings.Contains(string(r.Body), email) {
					c.t.Errorf("the invitation page does not greet %s", email)
				}
				c.accepted(email, false)
			}}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 200, InstanceAdmin: 200, Anon: 200}},
		{route: "POST /invite", req: func(c *mxCell) mxCall {
			_, email, token := c.fx.invited(c.t)
			return mxCall{path: "/invite", body: url.Values{"token": {token}, "password": {matrixPW}, "password2": {matrixPW}}, check: func(r *apptest.Response) {
				c.redirectsTo(r, "/projects")
				c.accepted(email, r.Status == http.StatusSeeOther)
				if r.Status == http.StatusSeeOther {
					c.newSessionCookie(r)
				}
			}}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 303, GroupAdmin: 303, GroupStandard: 303, Outsider: 303, InstanceAdmin: 303, Anon: 303}},
		{route: "GET /groups", req: mxGet("/groups"),
			want: mxExpect{Owner: 403, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 403, InstanceAdmin: 200, Anon: 303}},
		{route: "POST /groups", req: func(c *mxCell) mxCall {
			name := fmt.Sprintf("Page group %d", c.fx.next())
			return mxCall{path: "/groups", body: url.Values{"name": {name}}, check: func(r *apptest.Response) {
				if got := c.groupNamed(name); got != (r.Status == http.StatusSeeOther && c.p.kind != mxAnon) {
					c.t.Errorf("group %q exists = %v after status %d", name, got, r.Status)
				}
			}}
		}, want: mxExpect{Owner: 403, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 403, InstanceAdmin: 303, Anon: 303}},
		{route: "GET /groups/{id}", req: func(c *mxCell) mxCall { return mxCall{path: "/groups/" + c.w.groups[mxGroupAdmin]} },
			want: mxExpect{Owner: 403, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 403, InstanceAdmin: 200, Anon: 303}},
		{route: "POST /groups/{id}/members", req: func(c *mxCell) mxCall {
			gid, uid := c.fx.newGroup(c.t), c.w.users[mxOutsider].id
			return mxCall{path: "/groups/" + gid + "/members", body: url.Values{"user_id": {uid}}, check: func(r *apptest.Response) {
				if got := c.inGroup(gid, uid); got != (r.Status == http.StatusSeeOther && c.p.kind != mxAnon) {
					c.t.Errorf("member = %v after status %d", got, r.Status)
				}
			}}
		}, want: mxExpect{Owner: 403, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 403, InstanceAdmin: 303, Anon: 303}},
		{route: "POST /groups/{id}/members/{user}/remove", req: func(c *mxCell) mxCall {
			uid := c.w.users[mxOutsider].id
			gid := c.fx.newGroup(c.t, uid)
			return mxCall{path: "/groups/" + gid + "/members/" + uid + "/remove", body: url.Values{}, check: func(r *apptest.Response) {
				if got := c.inGroup(gid, uid); got == (r.Status == http.StatusSeeOther && c.p.kind != mxAnon) {
					c.t.Errorf("member = %v after status %d", got, r.Status)
				}
			}}
		}, want: mxExpect{Owner: 403, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 403, InstanceAdmin: 303, Anon: 303}},
		{route: "POST /groups/{id}/delete", req: func(c *mxCell) mxCall {
			gid := c.fx.newGroup(c.t)
			return mxCall{path: "/groups/" + gid + "/delete", body: url.Values{}, check: func(r *apptest.Response) {
				_, _, err := c.fx.inst.App.Accounts.Group(context.Background(), gid)
				if gone := err != nil; gone != (r.Status == http.StatusSeeOther && c.p.kind != mxAnon) {
					c.t.Errorf("group gone = %v after status %d", gone, r.Status)
				}
			}}
		}, want: mxExpect{Owner: 403, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 403, InstanceAdmin: 303, Anon: 303}},
		{route: "POST /api/v1/groups", req: func(c *mxCell) mxCall {
			name := fmt.Sprintf("Cell group %d", c.fx.next())
			return mxCall{path: "/api/v1/groups", body: map[string]any{"name": name}, check: func(r *apptest.Response) {
				if got := c.groupNamed(name); got != (r.Status == http.StatusCreated) {
					c.t.Errorf("group %q exists = %v after status %d", name, got, r.Status)
				}
			}}
		}, want: mxExpect{Owner: 403, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 403, InstanceAdmin: 201, Anon: 401}},
		{route: "GET /api/v1/groups/{id}", req: func(c *mxCell) mxCall {
			return mxCall{path: "/api/v1/groups/" + c.w.groups[mxGroupAdmin]}
		}, want: mxExpect{Owner: 403, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 403, InstanceAdmin: 200, Anon: 401}},
		{route: "PATCH /api/v1/groups/{id}", req: func(c *mxCell) mxCall {
			id := c.fx.newGroup(c.t)
			before, _ := c.group(id)
			name := fmt.Sprintf("Renamed group %d", c.fx.next())
			return mxCall{path: "/api/v1/groups/" + id, body: map[string]any{"name": name}, check: func(r *apptest.Response) {
				want := map[bool]string{true: name, false: before.Name}[r.Status == http.StatusOK]
				if g, _ := c.group(id); g.Name != want {
					c.t.Errorf("group name %q after status %d, want %q", g.Name, r.Status, want)
				}
			}}
		}, want: mxExpect{Owner: 403, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 403, InstanceAdmin: 200, Anon: 401}},
		{route: "DELETE /api/v1/groups/{id}", req: func(c *mxCell) mxCall {
			id := c.fx.newGroup(c.t)
			return mxCall{path: "/api/v1/groups/" + id, check: func(r *apptest.Response) {
				if g, _ := c.group(id); (g == nil) != (r.Status == http.StatusNoContent) {
					c.t.Errorf("group deleted = %v after status %d", g == nil, r.Status)
				}
			}}
		}, want: mxExpect{Owner: 403, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 403, InstanceAdmin: 204, Anon: 401}},
		{route: "POST /api/v1/groups/{id}/members", req: func(c *mxCell) mxCall {
			id, user := c.fx.newGroup(c.t), c.w.users[mxOutsider].id
			return mxCall{path: "/api/v1/groups/" + id + "/members", body: map[string]any{"user_id": user}, check: func(r *apptest.Response) {
				if _, m := c.group(id); m[user] != (r.Status == http.StatusCreated) {
					c.t.Errorf("user in group = %v after status %d", m[user], r.Status)
				}
			}}
		}, want: mxExpect{Owner: 403, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 403, InstanceAdmin: 201, Anon: 401}},
		{route: "DELETE /api/v1/groups/{id}/members/{user}", req: func(c *mxCell) mxCall {
			user := c.w.users[mxOutsider].id
			id := c.fx.newGroup(c.t, user)
			return mxCall{path: "/api/v1/groups/" + id + "/members/" + user, check: func(r *apptest.Response) {
				if _, m := c.group(id); m[user] == (r.Status == http.StatusNoContent) {
					c.t.Errorf("user in group = %v after status %d", m[user], r.Status)
				}
			}}
		}, want: mxExpect{Owner: 403, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 403, InstanceAdmin: 204, Anon: 401}},

		// Projects: any user lists (only what they can see) and creates.
		{route: "GET /api/v1/projects", req: func(c *mxCell) mxCall {
			return mxCall{path: "/api/v1/projects", check: func(r *apptest.Response) {
				if r.Status != http.StatusOK {
					return
				}
				listed := strings.Contains(string(r.Body), `"id":"`+c.w.project+`"`)
				if want := c.p.kind <= mxGroupStandard; listed != want {
					c.t.Errorf("the shared project is listed = %v, want %v", listed, want)
				}
			}}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 200, InstanceAdmin: 200, Anon: 401}},
		{route: "POST /api/v1/projects", req: func(c *mxCell) mxCall {
			return mxCall{path: "/api/v1/projects", body: map[string]any{"name": fmt.Sprintf("Cell project %d", c.fx.next())}}
		}, want: mxExpect{Owner: 201, Admin: 201, Standard: 201, GroupAdmin: 201, GroupStandard: 201, Outsider: 201, InstanceAdmin: 201, Anon: 401}},

		// One project, DESIGN §4 row by row. No role (the outsider, and the
		// instance administrator, who has no implicit access) is 404,
		// exactly like a project that does not exist; a role without the
		// action is 403.
		{route: "GET /api/v1/projects/{p}", req: func(c *mxCell) mxCall {
			return mxCall{path: c.project(""), check: func(r *apptest.Response) {
				roles := map[mxWho]string{mxOwner: "owner", mxAdmin: "admin", mxStandard: "standard", mxGroupAdmin: "admin", mxGroupStandard: "standard"}
				if r.Status == http.StatusOK && r.String("role") != roles[c.p.kind] {
					c.t.Errorf("effective role %q, want %q", r.String("role"), roles[c.p.kind])
				}
			}}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "PATCH /api/v1/projects/{p}", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			name := fmt.Sprintf("Renamed project %d", c.fx.next())
			return mxCall{path: c.project(""), body: map[string]any{"name": name}, check: func(r *apptest.Response) {
				want := map[bool]string{true: name, false: c.w.name}[r.Status == http.StatusOK]
				if got := c.as(mxOwner).Do(c.t, "GET", c.project(""), nil).String("name"); got != want {
					c.t.Errorf("project name %q after status %d, want %q", got, r.Status, want)
				}
			}}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 403, GroupAdmin: 200, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "DELETE /api/v1/projects/{p}", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			return mxCall{path: c.project(""), body: map[string]any{"password": c.credentials().password}, check: func(r *apptest.Response) {
				want := map[bool]int{true: 404, false: 200}[r.Status == http.StatusNoContent]
				c.wantGet(c.as(mxOwner), c.project(""), want, "the owner reading the project")
			}}
		}, want: mxExpect{Owner: 204, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "POST /api/v1/projects/{p}/transfer", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			to := c.w.users[mxStandard].id
			return mxCall{path: c.project("/transfer"), body: map[string]any{"user_id": to}, check: func(r *apptest.Response) {
				want := map[bool]string{true: to, false: c.w.users[mxOwner].id}[r.Status == http.StatusOK]
				if got := c.as(mxOwner).Do(c.t, "GET", c.project(""), nil).String("owner.id"); got != want {
					c.t.Errorf("owner %s after status %d, want %s", got, r.Status, want)
				}
			}}
		}, want: mxExpect{Owner: 200, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "GET /api/v1/projects/{p}/members", req: mxGetProject("/members"),
			want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "POST /api/v1/projects/{p}/members", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			key := "user:" + c.w.users[mxOutsider].id
			return mxCall{path: c.project("/members"), body: map[string]any{"user_id": c.w.users[mxOutsider].id, "role": "standard"},
				check: func(r *apptest.Response) {
					want := map[bool]string{true: "standard", false: ""}[r.Status == http.StatusCreated]
					if got := c.members()[key]; got != want {
						c.t.Errorf("the outsider's role %q after status %d, want %q", got, r.Status, want)
					}
				}}
		}, want: mxExpect{Owner: 201, Admin: 201, Standard: 403, GroupAdmin: 201, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "PATCH /api/v1/projects/{p}/members/{m}", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			m := c.w.members[mxStandard]
			return mxCall{path: c.project("/members/" + m), body: map[string]any{"role": "admin"}, check: func(r *apptest.Response) {
				want := map[bool]string{true: "admin", false: "standard"}[r.Status == http.StatusOK]
				if got := c.members()[m]; got != want {
					c.t.Errorf("the member's role %q after status %d, want %q", got, r.Status, want)
				}
			}}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 403, GroupAdmin: 200, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "DELETE /api/v1/projects/{p}/members/{m}", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			m := c.w.members[mxStandard]
			return mxCall{path: c.project("/members/" + m), check: func(r *apptest.Response) {
				want := map[bool]string{true: "", false: "standard"}[r.Status == http.StatusNoContent]
				if got := c.members()[m]; got != want {
					c.t.Errorf("the member's role %q after status %d, want %q", got, r.Status, want)
				}
			}}
		}, want: mxExpect{Owner: 204, Admin: 204, Standard: 403, GroupAdmin: 204, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		// Connections: every member reads them (secrets never shown) and
		// tests them; owner and administrators create, change and delete.
		{route: "GET /api/v1/projects/{p}/connections", req: func(c *mxCell) mxCall {
			return mxCall{path: c.project("/connections"), check: c.noSecret}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "POST /api/v1/projects/{p}/connections", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			return mxCall{path: c.project("/connections"), body: map[string]any{"name": "crm", "kind": "http",
				"settings": map[string]any{"base_url": "https://crm.example"}}, check: c.noSecret}
		}, want: mxExpect{Owner: 201, Admin: 201, Standard: 403, GroupAdmin: 201, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "GET /api/v1/projects/{p}/connections/{c}", req: func(c *mxCell) mxCall {
			return mxCall{path: c.project("/connections/" + c.w.connection), check: c.noSecret}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "PATCH /api/v1/projects/{p}/connections/{c}", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			return mxCall{path: c.project("/connections/" + c.w.connection), body: map[string]any{"auth": map[string]any{"token": "Matrix-Token-Secret-2"}},
				check: c.noSecret}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 403, GroupAdmin: 200, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "DELETE /api/v1/projects/{p}/connections/{c}", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			return mxCall{path: c.project("/connections/" + c.w.connection), check: func(r *apptest.Response) {
				want := map[bool]int{true: http.StatusNotFound, false: http.StatusOK}[r.Status == http.StatusNoContent]
				if got := c.status(c.fx.session(c.t, c.w.users[mxOwner]), c.project("/connections/"+c.w.connection)); got != want {
					c.t.Errorf("the connection answers %d to its owner after status %d, want %d", got, r.Status, want)
				}
			}}
		}, want: mxExpect{Owner: 204, Admin: 204, Standard: 403, GroupAdmin: 204, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "POST /api/v1/projects/{p}/connections/{c}/test", req: func(c *mxCell) mxCall {
			return mxCall{path: c.project("/connections/" + c.w.connection + "/test"), check: func(r *apptest.Response) {
				c.noSecret(r)
				if r.Status == http.StatusOK && (r.Get("ok") != true || r.Get("status") != float64(http.StatusNoContent)) {
					c.t.Errorf("connection test: %s", r.Body)
				}
			}}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		// Service consumers: every member sees them (secrets never shown);
		// owner and administrators create, change, rotate and delete.
		{route: "GET /api/v1/projects/{p}/consumers", req: func(c *mxCell) mxCall {
			return mxCall{path: c.project("/consumers"), check: c.noSecret}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "POST /api/v1/projects/{p}/consumers", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			return mxCall{path: c.project("/consumers"), body: map[string]any{"name": "erp", "flows": []string{c.w.flow},
				"auth": map[string]any{"type": "jwt", "algorithms": []string{"HS256"}, "secret": "Matrix-Token-Secret-jwt-0123456789abcdef"}}, check: c.noSecret}
		}, want: mxExpect{Owner: 201, Admin: 201, Standard: 403, GroupAdmin: 201, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "GET /api/v1/projects/{p}/consumers/{c}", req: func(c *mxCell) mxCall {
			return mxCall{path: c.project("/consumers/" + c.w.consumer), check: c.noSecret}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "PATCH /api/v1/projects/{p}/consumers/{c}", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			return mxCall{path: c.project("/consumers/" + c.w.consumer), body: map[string]any{"allowed_ips": []string{"203.0.113.0/24"}}, check: c.noSecret}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 403, GroupAdmin: 200, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "DELETE /api/v1/projects/{p}/consumers/{c}", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			return mxCall{path: c.project("/consumers/" + c.w.consumer), check: func(r *apptest.Response) {
				want := map[bool]int{true: http.StatusNotFound, false: http.StatusOK}[r.Status == http.StatusNoContent]
				if got := c.status(c.fx.session(c.t, c.w.users[mxOwner]), c.project("/consumers/"+c.w.consumer)); got != want {
					c.t.Errorf("the consumer answers %d to its owner after status %d, want %d", got, r.Status, want)
				}
			}}
		}, want: mxExpect{Owner: 204, Admin: 204, Standard: 403, GroupAdmin: 204, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		// Rotation answers the new generated secret, this once.
		{route: "POST /api/v1/projects/{p}/consumers/{c}/secret", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			return mxCall{path: c.project("/consumers/" + c.w.consumer + "/secret"), check: func(r *apptest.Response) {
				c.noSecret(r)
				if r.Status == http.StatusOK && len(r.String("secret")) < 22 {
					c.t.Errorf("rotation answered no new secret: %s", r.Body)
				}
			}}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 403, GroupAdmin: 200, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		// Console logs: every member lists them and may ask for a link
		// (for themselves); deleting one, or a pipe's, is project
		// configuration.
		{route: "GET /api/v1/projects/{p}/console-logs", req: mxGetProject("/console-logs"),
			want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "POST /api/v1/projects/{p}/console-logs/{l}/link", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			return mxCall{path: c.project("/console-logs/" + c.ownerConsoleLog() + "/link"), check: func(r *apptest.Response) {
				if r.Status == http.StatusCreated && !strings.Contains(r.String("url"), "/downloads/") {
					c.t.Errorf("link answer %s", r.Body)
				}
			}}
		}, want: mxExpect{Owner: 201, Admin: 201, Standard: 201, GroupAdmin: 201, GroupStandard: 201, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "DELETE /api/v1/projects/{p}/console-logs/{l}", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			id := c.ownerConsoleLog()
			return mxCall{path: c.project("/console-logs/" + id), check: func(r *apptest.Response) {
				listed := strings.Contains(string(c.owned(c.project("/console-logs")).Body), id)
				if listed == (r.Status == http.StatusNoContent) {
					c.t.Errorf("the log is listed = %v after status %d", listed, r.Status)
				}
			}}
		}, want: mxExpect{Owner: 204, Admin: 204, Standard: 403, GroupAdmin: 204, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "DELETE /api/v1/projects/{p}/console-logs", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			return mxCall{path: c.project("/console-logs?pipe=" + c.w.pipe)}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 403, GroupAdmin: 200, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		// A download link is its own credential: whoever holds a valid one
		// gets the log, signed in or not (download_test.go: forged, expired
		// and deleted links, and a user who lost the project).
		{route: "GET /downloads/{token}", fresh: mxFreshProject, req: func(c *mxCell) mxCall { return mxCall{path: c.ownerLink()} },
			want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 200, InstanceAdmin: 200, Anon: 200}},
		// Consent needs an OAuth 2.0 authorization-code connection; the
		// fixture's is a bearer one, so allowed roles get 409.
		{route: "POST /api/v1/projects/{p}/connections/{c}/oauth2/authorize", req: func(c *mxCell) mxCall {
			return mxCall{path: c.project("/connections/" + c.w.connection + "/oauth2/authorize")}
		}, want: mxExpect{Owner: 409, Admin: 409, Standard: 403, GroupAdmin: 409, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		// The callback with a state nobody issued.
		{route: "GET /api/v1/oauth2/callback", req: mxGet("/api/v1/oauth2/callback?state=not-a-state&code=x"),
			want: mxExpect{Owner: 400, Admin: 400, Standard: 400, GroupAdmin: 400, GroupStandard: 400, Outsider: 400, InstanceAdmin: 400, Anon: 401}},
		{route: "GET /api/v1/projects/{p}/audit", req: mxGetProject("/audit"),
			want: mxExpect{Owner: 200, Admin: 200, Standard: 403, GroupAdmin: 200, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "GET /api/v1/projects/{p}/alerts/webhook-secret", req: mxGetProject("/alerts/webhook-secret"),
			want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "POST /api/v1/projects/{p}/alerts/webhook-secret", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			return mxCall{path: c.project("/alerts/webhook-secret"), check: func(r *apptest.Response) {
				if r.Status == http.StatusCreated && !strings.HasPrefix(r.String("secret"), "whsec_") {
					c.t.Errorf("new webhook secret answer %s", r.Body)
				}
				if got := c.owned(c.project("/alerts/webhook-secret")).Get("set"); got != (r.Status == http.StatusCreated) {
					c.t.Errorf("webhook secret set = %v after status %d", got, r.Status)
				}
			}}
		}, want: mxExpect{Owner: 201, Admin: 201, Standard: 403, GroupAdmin: 201, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "DELETE /api/v1/projects/{p}/alerts/webhook-secret", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			wantStatus(c.t, c.as(mxOwner).Do(c.t, "POST", c.project("/alerts/webhook-secret"), nil), http.StatusCreated, "owner sets a webhook secret")
			return mxCall{path: c.project("/alerts/webhook-secret"), check: func(r *apptest.Response) {
				if got := c.owned(c.project("/alerts/webhook-secret")).Get("set"); got != (r.Status != http.StatusNoContent) {
					c.t.Errorf("webhook secret set = %v after status %d", got, r.Status)
				}
			}}
		}, want: mxExpect{Owner: 204, Admin: 204, Standard: 403, GroupAdmin: 204, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 401}},

		// Pipes and flows: the integration work itself, so every member
		// reads and changes them (a pipe's console-log settings are
		// project configuration: pipes_test.go covers the standard user's
		// request that mixes both, refused whole).
		{route: "GET /api/v1/projects/{p}/pipes", req: func(c *mxCell) mxCall {
			return mxCall{path: c.project("/pipes"), check: func(r *apptest.Response) {
				if r.Status == http.StatusOK && !strings.Contains(string(r.Body), `"id":"`+c.w.pipe+`"`) {
					c.t.Errorf("the pipe is not listed: %s", r.Body)
				}
			}}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "POST /api/v1/projects/{p}/pipes", req: func(c *mxCell) mxCall {
			name := fmt.Sprintf("Cell pipe %d", c.fx.next())
			return mxCall{path: c.project("/pipes"), body: map[string]any{"name": name}, check: func(r *apptest.Response) {
				if got := strings.Contains(string(c.owned(c.project("/pipes")).Body), name); got != (r.Status == http.StatusCreated) {
					c.t.Errorf("pipe %q exists = %v after status %d", name, got, r.Status)
				}
			}}
		}, want: mxExpect{Owner: 201, Admin: 201, Standard: 201, GroupAdmin: 201, GroupStandard: 201, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "GET /api/v1/projects/{p}/pipes/{pipe}", req: func(c *mxCell) mxCall { return mxCall{path: c.pipeline("")} },
			want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "PATCH /api/v1/projects/{p}/pipes/{pipe}", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			name := fmt.Sprintf("Renamed pipe %d", c.fx.next())
			return mxCall{path: c.pipeline(""), body: map[string]any{"name": name, "description": "moves orders"}, check: func(r *apptest.Response) {
				want := map[bool]string{true: name, false: "Shop ↔ ERP"}[r.Status == http.StatusOK]
				if got := c.owned(c.pipeline("")).String("name"); got != want {
					c.t.Errorf("pipe name %q after status %d, want %q", got, r.Status, want)
				}
			}}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "DELETE /api/v1/projects/{p}/pipes/{pipe}", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			return mxCall{path: c.pipeline(""), check: func(r *apptest.Response) {
				want := map[bool]int{true: http.StatusNotFound, false: http.StatusOK}[r.Status == http.StatusNoContent]
				if got := c.owned(c.flowAt("")).Status; got != want {
					c.t.Errorf("the pipe's flow answers %d to its owner after status %d, want %d", got, r.Status, want)
				}
			}}
		}, want: mxExpect{Owner: 204, Admin: 204, Standard: 204, GroupAdmin: 204, GroupStandard: 204, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "GET /api/v1/projects/{p}/pipes/{pipe}/flows", req: func(c *mxCell) mxCall { return mxCall{path: c.pipeline("/flows")} },
			want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "POST /api/v1/projects/{p}/pipes/{pipe}/flows", req: func(c *mxCell) mxCall {
			name := fmt.Sprintf("cell flow %d", c.fx.next())
			return mxCall{path: c.pipeline("/flows"), body: map[string]any{"definition": mxFlowDefinition(name)}, check: func(r *apptest.Response) {
				if got := strings.Contains(string(c.owned(c.pipeline("/flows")).Body), name); got != (r.Status == http.StatusCreated) {
					c.t.Errorf("flow %q exists = %v after status %d", name, got, r.Status)
				}
			}}
		}, want: mxExpect{Owner: 201, Admin: 201, Standard: 201, GroupAdmin: 201, GroupStandard: 201, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "GET /api/v1/projects/{p}/pipes/{pipe}/flows/{f}", req: func(c *mxCell) mxCall { return mxCall{path: c.flowAt("")} },
			want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "PUT /api/v1/projects/{p}/pipes/{pipe}/flows/{f}", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			return mxCall{path: c.flowAt(""), body: map[string]any{"definition": mxFlowDefinition("orders v2")}, check: func(r *apptest.Response) {
				want := map[bool]float64{true: 2, false: 1}[r.Status == http.StatusOK]
				if got := c.owned(c.flowAt("")).Get("version"); got != want {
					c.t.Errorf("flow version %v after status %d, want %v", got, r.Status, want)
				}
			}}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "DELETE /api/v1/projects/{p}/pipes/{pipe}/flows/{f}", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			return mxCall{path: c.flowAt(""), check: func(r *apptest.Response) {
				want := map[bool]int{true: http.StatusNotFound, false: http.StatusOK}[r.Status == http.StatusNoContent]
				if got := c.owned(c.flowAt("")).Status; got != want {
					c.t.Errorf("the flow answers %d to its owner after status %d, want %d", got, r.Status, want)
				}
			}}
		}, want: mxExpect{Owner: 204, Admin: 204, Standard: 204, GroupAdmin: 204, GroupStandard: 204, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "POST /api/v1/projects/{p}/pipes/{pipe}/disable", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			return mxCall{path: c.pipeline("/disable"), check: func(r *apptest.Response) {
				if got := c.owned(c.pipeline("")).Get("enabled"); got != (r.Status != http.StatusOK) {
					c.t.Errorf("pipe enabled = %v after status %d", got, r.Status)
				}
			}}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "POST /api/v1/projects/{p}/pipes/{pipe}/enable", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			wantStatus(c.t, c.as(mxOwner).Do(c.t, "POST", c.pipeline("/disable"), nil), http.StatusOK, "owner pauses the pipe")
			return mxCall{path: c.pipeline("/enable"), check: func(r *apptest.Response) {
				if got := c.owned(c.pipeline("")).Get("enabled"); got != (r.Status == http.StatusOK) {
					c.t.Errorf("pipe enabled = %v after status %d", got, r.Status)
				}
			}}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "POST /api/v1/projects/{p}/pipes/{pipe}/flows/{f}/enable", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			return mxCall{path: c.flowAt("/enable"), check: func(r *apptest.Response) {
				if got := c.owned(c.flowAt("")).Get("enabled"); got != (r.Status == http.StatusOK) {
					c.t.Errorf("flow enabled = %v after status %d", got, r.Status)
				}
			}}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "POST /api/v1/projects/{p}/pipes/{pipe}/flows/{f}/disable", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			wantStatus(c.t, c.as(mxOwner).Do(c.t, "POST", c.flowAt("/enable"), nil), http.StatusOK, "owner enables the flow")
			return mxCall{path: c.flowAt("/disable"), check: func(r *apptest.Response) {
				if got := c.owned(c.flowAt("")).Get("enabled"); got != (r.Status != http.StatusOK) {
					c.t.Errorf("flow enabled = %v after status %d", got, r.Status)
				}
			}}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "GET /api/v1/projects/{p}/pipes/{pipe}/flows/{f}/schedule", req: func(c *mxCell) mxCall { return mxCall{path: c.flowAt("/schedule")} },
			want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "GET /api/v1/projects/{p}/pipes/{pipe}/flows/{f}/versions", req: func(c *mxCell) mxCall { return mxCall{path: c.flowAt("/versions")} },
			want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "GET /api/v1/projects/{p}/pipes/{pipe}/flows/{f}/versions/{v}", req: func(c *mxCell) mxCall { return mxCall{path: c.flowAt("/versions/1")} },
			want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "POST /api/v1/projects/{p}/pipes/{pipe}/flows/{f}/versions/{v}/restore", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			wantStatus(c.t, c.as(mxOwner).Do(c.t, "PUT", c.flowAt(""), map[string]any{"definition": mxFlowDefinition("orders v2")}), http.StatusOK, "owner saves version 2")
			return mxCall{path: c.flowAt("/versions/1/restore"), check: func(r *apptest.Response) {
				want := map[bool]float64{true: 3, false: 2}[r.Status == http.StatusOK]
				if got := c.owned(c.flowAt("")).Get("version"); got != want {
					c.t.Errorf("flow version %v after status %d, want %v", got, r.Status, want)
				}
			}}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 401}},

		// Runs. The world's flow reads over HTTP, so its runs fail at start
		// ("not supported yet"); what matters here is who may do what.
		{route: "POST /api/v1/projects/{p}/pipes/{pipe}/flows/{f}/runs", req: func(c *mxCell) mxCall {
			return mxCall{path: c.flowAt("/runs"), check: func(r *apptest.Response) {
				if r.Status != http.StatusAccepted {
					return
				}
				if got := c.owned(c.project("/runs/" + r.String("id"))).Status; got != http.StatusOK {
					c.t.Errorf("the started run answers %d to its owner, want 200", got)
				}
			}}
		}, want: mxExpect{Owner: 202, Admin: 202, Standard: 202, GroupAdmin: 202, GroupStandard: 202, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		// A dry run answers what the flow would do and keeps nothing.
		{route: "POST /api/v1/projects/{p}/pipes/{pipe}/flows/{f}/test", req: func(c *mxCell) mxCall {
			body := map[string]any{"records": []any{map[string]any{"id": 7, "total": 5}}}
			return mxCall{path: c.flowAt("/test"), body: body, check: func(r *apptest.Response) {
				if r.Status != http.StatusOK {
					return
				}
				recs, _ := r.Get("records").([]any)
				if len(recs) != 1 || recs[0].(map[string]any)["status"] != "succeeded" || recs[0].(map[string]any)["entity_id"] != "7" {
					c.t.Errorf("dry run answered %s", r.Body)
				}
			}}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "GET /api/v1/projects/{p}/runs", req: func(c *mxCell) mxCall { return mxCall{path: c.project("/runs")} },
			want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "GET /api/v1/projects/{p}/runs/{r}", req: func(c *mxCell) mxCall { return mxCall{path: c.project("/runs/" + c.ownerRun())} },
			want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "GET /api/v1/projects/{p}/runs/{r}/failures", req: func(c *mxCell) mxCall {
			return mxCall{path: c.project("/runs/" + c.ownerRun() + "/failures")}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "GET /api/v1/projects/{p}/runs/{r}/logs", req: func(c *mxCell) mxCall {
			return mxCall{path: c.project("/runs/" + c.ownerRun() + "/logs")}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		{route: "DELETE /api/v1/projects/{p}/runs/{r}", req: func(c *mxCell) mxCall {
			run := c.project("/runs/" + c.ownerRun())
			return mxCall{path: run, check: func(r *apptest.Response) {
				want := map[bool]int{true: http.StatusNotFound, false: http.StatusOK}[r.Status == http.StatusNoContent]
				if got := c.owned(run).Status; got != want {
					c.t.Errorf("the run answers %d to its owner after status %d, want %d", got, r.Status, want)
				}
			}}
		}, want: mxExpect{Owner: 204, Admin: 204, Standard: 403, GroupAdmin: 204, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		// Deleting runs by date: a date before every run, so the shared
		// project loses nothing (retention_test.go deletes for real).
		{route: "DELETE /api/v1/projects/{p}/runs", req: func(c *mxCell) mxCall {
			run := c.project("/runs/" + c.ownerRun())
			return mxCall{path: c.project("/runs?before=2000-01-01"), check: func(r *apptest.Response) {
				if r.Status == http.StatusOK && r.Get("deleted") != float64(0) {
					c.t.Errorf("deleted %v runs before 2000", r.Get("deleted"))
				}
				if got := c.owned(run).Status; got != http.StatusOK {
					c.t.Errorf("a run answers %d to its owner after status %d, want 200", got, r.Status)
				}
			}}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 403, GroupAdmin: 200, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		// Cancelling: each cell gets a queued run of its own whose job
		// waits an hour, so an allowed cancel always finds it queued.
		{route: "POST /api/v1/projects/{p}/runs/{r}/cancel", req: func(c *mxCell) mxCall {
			run := c.project("/runs/" + c.queuedRun())
			return mxCall{path: run + "/cancel", check: func(r *apptest.Response) {
				want := map[bool]string{true: "cancelled", false: "queued"}[r.Status == http.StatusOK]
				if got := c.owned(run).String("status"); got != want {
					c.t.Errorf("the run is %q after status %d, want %q", got, r.Status, want)
				}
			}}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 401}},
		// The world's flow reads over HTTP with no fetch_one, so whoever
		// may reprocess is told it cannot (422) and no run starts.
		{route: "POST /api/v1/projects/{p}/runs/{r}/reprocess", req: func(c *mxCell) mxCall {
			return mxCall{path: c.project("/runs/" + c.ownerRun() + "/reprocess"), check: func(r *apptest.Response) {
				if r.Status == http.StatusUnprocessableEntity && !strings.Contains(string(r.Body), "fetch_one") {
					c.t.Errorf("reprocess refused without saying why: %s", r.Body)
				}
				if n := c.reprocessRuns(); n != 0 {
					c.t.Errorf("%d reprocess runs after status %d, want none", n, r.Status)
				}
			}}
		}, want: mxExpect{Owner: 422, Admin: 422, Standard: 422, GroupAdmin: 422, GroupStandard: 422, Outsider: 404, InstanceAdmin: 404, Anon: 401}},

		// Console pages. They answer a missing login with a redirect to the
		// login page, not 401; the public ones answer everyone. A key
		// counts as a login on a page as it does on the API.
		{route: "GET /{$}", req: func(c *mxCell) mxCall {
			return mxCall{path: "/", check: func(r *apptest.Response) { c.redirectsTo(r, "/login") }}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 200, InstanceAdmin: 200, Anon: 303}},
		{route: "GET /setup", req: func(c *mxCell) mxCall {
			return mxCall{path: "/setup", check: func(r *apptest.Response) { c.redirectsTo(r, "/login?notice=setup-done") }}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 303, GroupAdmin: 303, GroupStandard: 303, Outsider: 303, InstanceAdmin: 303, Anon: 303}},
		{route: "POST /setup", req: func(c *mxCell) mxCall {
			email := fmt.Sprintf("late-%d@example.com", c.fx.next())
			return mxCall{path: "/setup", body: url.Values{"token": {"a-guessed-token"}, "email": {email}, "password": {matrixPW}, "name": {"Late"}},
				check: func(*apptest.Response) { c.noUser(email) }}
		}, want: mxExpect{Owner: 409, Admin: 409, Standard: 409, GroupAdmin: 409, GroupStandard: 409, Outsider: 409, InstanceAdmin: 409, Anon: 409}},
		{route: "GET /login", req: func(c *mxCell) mxCall {
			return mxCall{path: "/login", check: func(r *apptest.Response) { c.redirectsTo(r, "/") }}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 303, GroupAdmin: 303, GroupStandard: 303, Outsider: 303, InstanceAdmin: 303, Anon: 200}},
		{route: "POST /login", fresh: mxFreshUser, req: func(c *mxCell) mxCall {
			a := c.credentials()
			return mxCall{path: "/login", body: url.Values{"email": {a.email}, "password": {a.password}, "next": {"/"}}, check: func(r *apptest.Response) {
				c.redirectsTo(r, "/")
				c.newSessionCookie(r)
			}}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 303, GroupAdmin: 303, GroupStandard: 303, Outsider: 303, InstanceAdmin: 303, Anon: 303}},
		{route: "POST /logout", fresh: mxFreshUser, req: func(c *mxCell) mxCall {
			return mxCall{path: "/logout", body: url.Values{}, check: func(r *apptest.Response) {
				if c.p.kind == mxAnon {
					c.redirectsTo(r, "/login?next=%2Flogout")
					return
				}
				c.redirectsTo(r, "/login?notice=logged-out")
				c.loggedOut()
			}}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 303, GroupAdmin: 303, GroupStandard: 303, Outsider: 303, InstanceAdmin: 303, Anon: 303}},
		{route: "GET /static/", req: mxGet("/static/console.css"),
			want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 200, InstanceAdmin: 200, Anon: 200}},

		// The console's account page (console/account.go): the user's own
		// password, second factor, keys and sessions, like /api/v1/me.
		// Every user may use it; anonymous is sent to the login page.
		{route: "GET /account", req: func(c *mxCell) mxCall {
			return mxCall{path: "/account", check: c.pageOrLogin("password-form")}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 200, InstanceAdmin: 200, Anon: 303}},
		{route: "POST /account/password", fresh: mxFreshUser, req: func(c *mxCell) mxCall {
			a := c.credentials()
			const next = "Granite-Meadow-Lantern-59"
			return mxCall{path: "/account/password", body: url.Values{"current_password": {a.password}, "new_password": {next}}, check: func(r *apptest.Response) {
				if c.p.kind == mxAnon {
					c.redirectsTo(r, "/login?next=%2Faccount%2Fpassword")
					return
				}
				c.redirectsTo(r, "/account?notice=password-changed")
				changed := *a
				changed.password = next
				c.fx.login(c.t, &changed)
			}}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 303, GroupAdmin: 303, GroupStandard: 303, Outsider: 303, InstanceAdmin: 303, Anon: 303}},
		{route: "POST /account/totp", fresh: mxFreshUser, req: func(c *mxCell) mxCall {
			return mxCall{path: "/account/totp", body: url.Values{"password": {c.credentials().password}}, check: c.pageOrLogin(`id="totp-secret"`)}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 200, InstanceAdmin: 200, Anon: 303}},
		{route: "POST /account/totp/confirm", fresh: mxFreshUser, req: func(c *mxCell) mxCall {
			code := "123456"
			if c.me() != nil {
				code = totpCode(c.t, c.fx.beginTOTP(c.t, c.me()), c.fx.inst.Clock.Now())
			}
			return mxCall{path: "/account/totp/confirm", body: url.Values{"code": {code}}, check: c.pageOrLogin(`id="recovery-codes"`)}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 200, InstanceAdmin: 200, Anon: 303}},
		{route: "POST /account/totp/disable", fresh: mxFreshUser, req: func(c *mxCell) mxCall {
			if c.me() != nil {
				c.fx.enableTOTP(c.t, c.me())
			}
			return mxCall{path: "/account/totp/disable", body: url.Values{"password": {c.credentials().password}}, check: func(r *apptest.Response) {
				if c.p.kind == mxAnon {
					c.redirectsTo(r, "/login?next=%2Faccount%2Ftotp%2Fdisable")
					return
				}
				c.redirectsTo(r, "/account?notice=totp-disabled")
				if on := c.fx.session(c.t, c.me()).Do(c.t, "GET", "/api/v1/me", nil).Get("user.totp_enabled"); on != false {
					c.t.Errorf("two-factor login is %v after turning it off", on)
				}
			}}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 303, GroupAdmin: 303, GroupStandard: 303, Outsider: 303, InstanceAdmin: 303, Anon: 303}},
		{route: "POST /account/totp/recovery-codes", fresh: mxFreshUser, req: func(c *mxCell) mxCall {
			if c.me() != nil {
				c.fx.enableTOTP(c.t, c.me())
			}
			return mxCall{path: "/account/totp/recovery-codes", body: url.Values{"password": {c.credentials().password}}, check: c.pageOrLogin(`id="recovery-codes"`)}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 200, InstanceAdmin: 200, Anon: 303}},
		{route: "POST /account/api-keys", req: func(c *mxCell) mxCall {
			return mxCall{path: "/account/api-keys", body: url.Values{"name": {"matrix page"}, "expires_in_days": {"1"}}, check: c.pageOrLogin(`id="new-key-token"`)}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 200, InstanceAdmin: 200, Anon: 303}},
		{route: "POST /account/api-keys/{id}/revoke", fresh: mxFreshUser, req: func(c *mxCell) mxCall {
			token, id := c.fx.newKey(c.t, c.credentials())
			return mxCall{path: "/account/api-keys/" + id + "/revoke", body: url.Values{}, check: func(r *apptest.Response) {
				revoked := c.p.kind != mxAnon
				if revoked {
					c.redirectsTo(r, "/account?notice=key-revoked")
				}
				c.wantGet(c.fx.keyClient(&mxUser{key: token}), "/api/v1/me", map[bool]int{false: 200, true: 401}[revoked], "the key named in the path")
			}}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 303, GroupAdmin: 303, GroupStandard: 303, Outsider: 303, InstanceAdmin: 303, Anon: 303}},
		{route: "POST /account/sessions/{id}/revoke", fresh: mxFreshUser, req: func(c *mxCell) mxCall {
			if c.me() == nil {
				other, id := c.fx.login(c.t, c.w.users[mxOutsider])
				return mxCall{path: "/account/sessions/" + id + "/revoke", body: url.Values{}, check: func(*apptest.Response) {
					c.wantGet(other, "/api/v1/me", 200, "a session named by an anonymous post")
				}}
			}
			other, id := c.fx.login(c.t, c.me())
			return mxCall{path: "/account/sessions/" + id + "/revoke", body: url.Values{}, check: func(r *apptest.Response) {
				c.redirectsTo(r, "/account?notice=session-revoked")
				c.wantGet(other, "/api/v1/me", 401, "the revoked session")
			}}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 303, GroupAdmin: 303, GroupStandard: 303, Outsider: 303, InstanceAdmin: 303, Anon: 303}},
		{route: "POST /account/sessions/revoke-others", fresh: mxFreshUser, req: func(c *mxCell) mxCall {
			var other *apptest.Client
			if c.me() != nil {
				other, _ = c.fx.login(c.t, c.me())
			}
			return mxCall{path: "/account/sessions/revoke-others", body: url.Values{}, check: func(r *apptest.Response) {
				if c.p.kind == mxAnon {
					c.redirectsTo(r, "/login?next=%2Faccount%2Fsessions%2Frevoke-others")
					return
				}
				c.redirectsTo(r, "/account?notice=sessions-revoked")
				c.wantGet(other, "/api/v1/me", 401, "another session after ending the others")
				// A session keeps itself; a key, having none, ends them all.
				still := map[bool]int{false: 200, true: 401}[c.p.viaKey]
				c.wantGet(c.fx.session(c.t, c.me()), "/api/v1/me", still, "the caller's own session")
			}}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 303, GroupAdmin: 303, GroupStandard: 303, Outsider: 303, InstanceAdmin: 303, Anon: 303}},

		// Console pages of projects, pipes and flows (console/projects.go):
		// the same actions as their API twins. A form post that was
		// allowed redirects to its result (303, like the login page's
		// redirect for anonymous), so each check reads the state back.
		{route: "GET /projects", req: func(c *mxCell) mxCall {
			return mxCall{path: "/projects", check: c.pageOrLogin("project-form")}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 200, InstanceAdmin: 200, Anon: 303}},
		{route: "POST /projects", req: func(c *mxCell) mxCall {
			name := fmt.Sprintf("Page project %d", c.fx.next())
			return mxCall{path: "/projects", body: url.Values{"name": {name}}, check: func(r *apptest.Response) {
				if c.p.kind == mxAnon {
					c.redirectsTo(r, "/login?next=%2Fprojects")
					return
				}
				id, ok := strings.CutPrefix(strings.TrimSuffix(r.Header.Get("Location"), "?notice=created"), "/projects/")
				if got := c.client().Do(c.t, "GET", "/api/v1/projects/"+id, nil).String("name"); !ok || got != name {
					c.t.Errorf("create project redirects to %q, whose name is %q, want the new project %q", r.Header.Get("Location"), got, name)
				}
			}}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 303, GroupAdmin: 303, GroupStandard: 303, Outsider: 303, InstanceAdmin: 303, Anon: 303}},
		{route: "GET /projects/{p}", req: func(c *mxCell) mxCall {
			return mxCall{path: "/projects/" + c.w.project, check: c.pageOrLogin("records-chart")}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "GET /projects/{p}/pipes", req: func(c *mxCell) mxCall {
			return mxCall{path: "/projects/" + c.w.project + "/pipes", check: c.pageOrLogin(`id="pipe-` + c.w.pipe + `"`)}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "POST /projects/{p}/pipes", req: func(c *mxCell) mxCall {
			name := fmt.Sprintf("Page pipe %d", c.fx.next())
			return mxCall{path: "/projects/" + c.w.project + "/pipes", body: url.Values{"name": {name}}, check: func(r *apptest.Response) {
				allowed := r.Status == http.StatusSeeOther && c.p.kind != mxAnon
				if allowed {
					c.redirectsTo(r, "/projects/"+c.w.project+"/pipes?notice=pipe-created")
				}
				if got := strings.Contains(string(c.owned(c.project("/pipes")).Body), name); got != allowed {
					c.t.Errorf("pipe %q exists = %v after status %d", name, got, r.Status)
				}
			}}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 303, GroupAdmin: 303, GroupStandard: 303, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "POST /projects/{p}/pipes/{pipe}/flows", req: func(c *mxCell) mxCall {
			name := fmt.Sprintf("page flow %d", c.fx.next())
			def, _ := json.Marshal(mxFlowDefinition(name))
			return mxCall{path: "/projects/" + c.w.project + "/pipes/" + c.w.pipe + "/flows", body: url.Values{"definition": {string(def)}},
				check: func(r *apptest.Response) {
					allowed := r.Status == http.StatusSeeOther && c.p.kind != mxAnon
					if allowed && !strings.HasPrefix(r.Header.Get("Location"), "/projects/"+c.w.project+"/pipes/"+c.w.pipe+"/flows/") {
						c.t.Errorf("create flow redirects to %q, want the new flow's page", r.Header.Get("Location"))
					}
					if got := strings.Contains(string(c.owned(c.pipeline("/flows")).Body), name); got != allowed {
						c.t.Errorf("flow %q exists = %v after status %d", name, got, r.Status)
					}
				}}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 303, GroupAdmin: 303, GroupStandard: 303, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "GET /projects/{p}/pipes/{pipe}/flows/{f}", req: func(c *mxCell) mxCall {
			return mxCall{path: c.flowPage(""), check: c.pageOrLogin("flow-diagram")}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "POST /projects/{p}/pipes/{pipe}/flows/{f}", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			name := fmt.Sprintf("saved flow %d", c.fx.next())
			def, _ := json.Marshal(mxFlowDefinition(name))
			return mxCall{path: c.flowPage(""), body: url.Values{"definition": {string(def)}}, check: func(r *apptest.Response) {
				allowed := r.Status == http.StatusSeeOther && c.p.kind != mxAnon
				if allowed {
					c.redirectsTo(r, c.flowPage("?notice=saved"))
				}
				want := map[bool]string{true: name, false: "orders"}[allowed]
				if got := c.owned(c.flowAt("")).String("name"); got != want {
					c.t.Errorf("flow name %q after status %d, want %q", got, r.Status, want)
				}
			}}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 303, GroupAdmin: 303, GroupStandard: 303, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "POST /projects/{p}/pipes/{pipe}/flows/{f}/enable", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			return mxCall{path: c.flowPage("/enable"), body: url.Values{}, check: func(r *apptest.Response) {
				allowed := r.Status == http.StatusSeeOther && c.p.kind != mxAnon
				if got := c.owned(c.flowAt("")).Get("enabled"); got != allowed {
					c.t.Errorf("flow enabled = %v after status %d", got, r.Status)
				}
			}}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 303, GroupAdmin: 303, GroupStandard: 303, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "POST /projects/{p}/pipes/{pipe}/flows/{f}/disable", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			wantStatus(c.t, c.as(mxOwner).Do(c.t, "POST", c.flowAt("/enable"), nil), http.StatusOK, "owner turns the flow on")
			return mxCall{path: c.flowPage("/disable"), body: url.Values{}, check: func(r *apptest.Response) {
				allowed := r.Status == http.StatusSeeOther && c.p.kind != mxAnon
				if got := c.owned(c.flowAt("")).Get("enabled"); got != !allowed {
					c.t.Errorf("flow enabled = %v after status %d", got, r.Status)
				}
			}}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 303, GroupAdmin: 303, GroupStandard: 303, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "POST /projects/{p}/pipes/{pipe}/flows/{f}/run", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			return mxCall{path: c.flowPage("/run"), body: url.Values{}, check: func(r *apptest.Response) {
				if r.Status != http.StatusSeeOther || c.p.kind == mxAnon {
					if n := len(c.owned(c.project("/runs")).Get("runs").([]any)); n != 0 {
						c.t.Errorf("%d runs after status %d, want none", n, r.Status)
					}
					return
				}
				id, ok := strings.CutPrefix(r.Header.Get("Location"), "/projects/"+c.w.project+"/runs/")
				if !ok || c.owned(c.project("/runs/"+id)).Status != http.StatusOK {
					c.t.Errorf("run now redirects to %q, want the started run's page", r.Header.Get("Location"))
				}
			}}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 303, GroupAdmin: 303, GroupStandard: 303, Outsider: 404, InstanceAdmin: 404, Anon: 303}},

		// A pipe's console-log settings from the pipes page: project
		// configuration, as PATCH .../pipes/{pipe} with console_log.
		{route: "POST /projects/{p}/pipes/{pipe}/console-log", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			return mxCall{path: c.project("/pipes/" + c.w.pipe + "/console-log")[len("/api/v1"):],
				body: url.Values{"enabled": {"1"}, "capture": {"records"}, "auto_off_hours": {"3"}}, check: func(r *apptest.Response) {
					on := c.owned(c.project("/pipes/"+c.w.pipe)).Get("console_log.enabled") == true
					if on != (r.Status == http.StatusSeeOther && c.p.kind != mxAnon) {
						c.t.Errorf("console log on = %v after status %d", on, r.Status)
					}
				}}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 403, GroupAdmin: 303, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		// A flow version's page (definition and diff) and its restore.
		{route: "GET /projects/{p}/pipes/{pipe}/flows/{f}/versions/{v}", req: func(c *mxCell) mxCall {
			return mxCall{path: c.flowPage("/versions/1"), check: func(r *apptest.Response) {
				if r.Status == http.StatusOK && !strings.Contains(string(r.Body), "version-text") {
					c.t.Errorf("the version page shows no definition: %.300s", r.Body)
				}
			}}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "POST /projects/{p}/pipes/{pipe}/flows/{f}/versions/{v}/restore", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			// A second version, so restoring the first makes a third.
			wantStatus(c.t, c.as(mxOwner).Do(c.t, "PUT", c.project("/pipes/"+c.w.pipe+"/flows/"+c.w.flow),
				map[string]any{"definition": mxFlowDefinition("orders-2")}), http.StatusOK, "owner saves version 2")
			return mxCall{path: c.flowPage("/versions/1/restore"), body: url.Values{}, check: func(r *apptest.Response) {
				v := c.owned(c.project("/pipes/" + c.w.pipe + "/flows/" + c.w.flow)).Get("version")
				want := map[bool]float64{true: 3, false: 2}[r.Status == http.StatusSeeOther && c.p.kind != mxAnon]
				if v != want {
					c.t.Errorf("flow version %v after status %d, want %v", v, r.Status, want)
				}
			}}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 303, GroupAdmin: 303, GroupStandard: 303, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		// A dry run page: every member who may run flows sees each step's
		// output; nothing is written and no run is kept.
		{route: "POST /projects/{p}/pipes/{pipe}/flows/{f}/test", req: func(c *mxCell) mxCall {
			return mxCall{path: c.flowPage("/test"), body: url.Values{"records": {`[{"id": 1, "total": 2}]`}}, check: func(r *apptest.Response) {
				if r.Status == http.StatusOK && !strings.Contains(string(r.Body), "dry-record-1") {
					c.t.Errorf("the dry run page shows no record: %.400s", r.Body)
				}
			}}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 303}},

		// Console pages of runs and console logs (console/runs.go): the
		// same actions as their API twins; a refusal is a page, a missing
		// login a redirect to the login page.
		{route: "GET /projects/{p}/runs", req: func(c *mxCell) mxCall {
			return mxCall{path: "/projects/" + c.w.project + "/runs", check: c.pageOrLogin("runs-filters")}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "GET /projects/{p}/runs/{r}", req: func(c *mxCell) mxCall {
			return mxCall{path: "/projects/" + c.w.project + "/runs/" + c.ownerRun(), check: c.pageOrLogin("run-facts")}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		// The world's flow has no fetch_one: whoever may reprocess is told
		// why on the page (422), and no run starts.
		{route: "POST /projects/{p}/runs/{r}/reprocess", req: func(c *mxCell) mxCall {
			return mxCall{path: "/projects/" + c.w.project + "/runs/" + c.ownerRun() + "/reprocess", body: url.Values{"scope": {"all"}},
				check: func(r *apptest.Response) {
					if r.Status == http.StatusUnprocessableEntity && !strings.Contains(string(r.Body), "fetch_one") {
						c.t.Errorf("reprocess refused without saying why: %s", r.Body)
					}
					if n := c.reprocessRuns(); n != 0 {
						c.t.Errorf("%d reprocess runs after status %d, want none", n, r.Status)
					}
				}}
		}, want: mxExpect{Owner: 422, Admin: 422, Standard: 422, GroupAdmin: 422, GroupStandard: 422, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "POST /projects/{p}/runs/{r}/cancel", req: func(c *mxCell) mxCall {
			id := c.queuedRun()
			run := c.project("/runs/" + id)
			return mxCall{path: "/projects/" + c.w.project + "/runs/" + id + "/cancel", body: url.Values{}, check: func(r *apptest.Response) {
				allowed := r.Status == http.StatusSeeOther && c.p.kind != mxAnon
				if allowed {
					c.redirectsTo(r, "/projects/"+c.w.project+"/runs/"+id+"?notice=cancelled")
				}
				want := map[bool]string{true: "cancelled", false: "queued"}[allowed]
				if got := c.owned(run).String("status"); got != want {
					c.t.Errorf("the run is %q after status %d, want %q", got, r.Status, want)
				}
			}}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 303, GroupAdmin: 303, GroupStandard: 303, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "POST /projects/{p}/runs/{r}/delete", req: func(c *mxCell) mxCall {
			id := c.ownerRun()
			run := c.project("/runs/" + id)
			return mxCall{path: "/projects/" + c.w.project + "/runs/" + id + "/delete", body: url.Values{}, check: func(r *apptest.Response) {
				allowed := r.Status == http.StatusSeeOther && c.p.kind != mxAnon
				if allowed {
					c.redirectsTo(r, "/projects/"+c.w.project+"/runs?notice=deleted")
				}
				want := map[bool]int{true: http.StatusNotFound, false: http.StatusOK}[allowed]
				if got := c.owned(run).Status; got != want {
					c.t.Errorf("the run answers %d to its owner after status %d, want %d", got, r.Status, want)
				}
			}}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 403, GroupAdmin: 303, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "GET /projects/{p}/console-logs", req: func(c *mxCell) mxCall {
			return mxCall{path: "/projects/" + c.w.project + "/console-logs", check: c.pageOrLogin("Console logs")}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		// Download makes a link for the caller and sends the browser to it.
		// Both rows take a project of their own: the API row that deletes
		// a pipe's logs would otherwise race them on the shared one.
		{route: "POST /projects/{p}/console-logs/{l}/download", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			return mxCall{path: "/projects/" + c.w.project + "/console-logs/" + c.ownerConsoleLog() + "/download", body: url.Values{},
				check: func(r *apptest.Response) {
					loc := r.Header.Get("Location")
					if r.Status == http.StatusSeeOther && c.p.kind != mxAnon && !strings.HasPrefix(loc, "/downloads/") {
						c.t.Errorf("download redirects to %q, want a /downloads/ link", loc)
					}
					if r.Status == http.StatusSeeOther && c.p.kind == mxAnon && !strings.HasPrefix(loc, "/login?") {
						c.t.Errorf("anonymous download redirects to %q, want the login page", loc)
					}
				}}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 303, GroupAdmin: 303, GroupStandard: 303, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "POST /projects/{p}/console-logs/{l}/delete", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			id := c.ownerConsoleLog()
			return mxCall{path: "/projects/" + c.w.project + "/console-logs/" + id + "/delete", body: url.Values{}, check: func(r *apptest.Response) {
				allowed := r.Status == http.StatusSeeOther && c.p.kind != mxAnon
				listed := strings.Contains(string(c.owned(c.project("/console-logs")).Body), id)
				if listed == allowed {
					c.t.Errorf("the log is listed = %v after status %d", listed, r.Status)
				}
			}}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 403, GroupAdmin: 303, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 303}},

		// Console pages of connections and service consumers
		// (console/connections.go): the same actions as their API twins.
		// No page ever shows a stored secret; a consumer's generated secret
		// is on the one page that answers its create or rotation.
		{route: "GET /projects/{p}/connections", req: func(c *mxCell) mxCall {
			return mxCall{path: "/projects/" + c.w.project + "/connections", check: func(r *apptest.Response) {
				c.pageOrLogin("connections-table")(r)
				c.noSecret(r)
			}}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "POST /projects/{p}/connections", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			return mxCall{path: "/projects/" + c.w.project + "/connections", body: url.Values{"kind": {"http"}, "name": {"crm"},
				"settings.base_url": {"https://crm.example"}, "auth.type": {"bearer"}, "auth.token": {"Matrix-Token-Secret-page"}},
				check: func(r *apptest.Response) {
					c.noSecret(r)
					allowed := r.Status == http.StatusSeeOther && c.p.kind != mxAnon
					if allowed && !strings.HasPrefix(r.Header.Get("Location"), "/projects/"+c.w.project+"/connections/") {
						c.t.Errorf("create connection redirects to %q, want its page", r.Header.Get("Location"))
					}
					if got := strings.Contains(string(c.owned(c.project("/connections")).Body), `"crm"`); got != allowed {
						c.t.Errorf("connection crm exists = %v after status %d", got, r.Status)
					}
				}}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 403, GroupAdmin: 303, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "GET /projects/{p}/connections/{c}", req: func(c *mxCell) mxCall {
			return mxCall{path: "/projects/" + c.w.project + "/connections/" + c.w.connection, check: func(r *apptest.Response) {
				c.pageOrLogin("conn-facts")(r)
				c.noSecret(r)
			}}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "POST /projects/{p}/connections/{c}", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			return mxCall{path: "/projects/" + c.w.project + "/connections/" + c.w.connection, body: url.Values{"name": {"erp renamed"},
				"settings.base_url": {c.fx.echo.URL}, "auth.type": {"bearer"}}, check: func(r *apptest.Response) {
				allowed := r.Status == http.StatusSeeOther && c.p.kind != mxAnon
				want := map[bool]string{true: "erp renamed", false: "erp"}[allowed]
				if got := c.owned(c.project("/connections/" + c.w.connection)).String("name"); got != want {
					c.t.Errorf("connection name %q after status %d, want %q", got, r.Status, want)
				}
			}}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 403, GroupAdmin: 303, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "POST /projects/{p}/connections/{c}/delete", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			return mxCall{path: "/projects/" + c.w.project + "/connections/" + c.w.connection + "/delete", body: url.Values{}, check: func(r *apptest.Response) {
				allowed := r.Status == http.StatusSeeOther && c.p.kind != mxAnon
				want := map[bool]int{true: http.StatusNotFound, false: http.StatusOK}[allowed]
				if got := c.status(c.as(mxOwner), c.project("/connections/"+c.w.connection)); got != want {
					c.t.Errorf("the connection answers %d to its owner after status %d, want %d", got, r.Status, want)
				}
			}}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 403, GroupAdmin: 303, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "POST /projects/{p}/connections/{c}/test", req: func(c *mxCell) mxCall {
			return mxCall{path: "/projects/" + c.w.project + "/connections/" + c.w.connection + "/test", body: url.Values{}, check: func(r *apptest.Response) {
				c.noSecret(r)
				if r.Status == http.StatusOK && !strings.Contains(string(r.Body), `id="diag-result">ok<`) {
					c.t.Errorf("the test page shows no passed diagnosis: %s", r.Body)
				}
			}}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		// The console's OAuth 2.0 connect: the fixture's connection is a
		// bearer one, so roles that manage credentials get 409 (as the
		// API's authorize); the callback with a state nobody issued is 400.
		{route: "POST /projects/{p}/connections/{c}/oauth2/connect", req: func(c *mxCell) mxCall {
			return mxCall{path: "/projects/" + c.w.project + "/connections/" + c.w.connection + "/oauth2/connect", body: url.Values{}, check: c.noSecret}
		}, want: mxExpect{Owner: 409, Admin: 409, Standard: 403, GroupAdmin: 409, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "GET /oauth2/callback", req: mxGet("/oauth2/callback?state=not-a-state&code=x"),
			want: mxExpect{Owner: 400, Admin: 400, Standard: 400, GroupAdmin: 400, GroupStandard: 400, Outsider: 400, InstanceAdmin: 400, Anon: 303}},
		// Changing a consumer from its page (as PATCH): credentials work.
		{route: "POST /projects/{p}/consumers/{c}", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			return mxCall{path: "/projects/" + c.w.project + "/consumers/" + c.w.consumer,
				body: url.Values{"flows": {c.w.flow}, "allowed_ips": {"198.51.100.0/24"}, "rate_per_second": {"7"}, "rate_burst": {"7"}},
				check: func(r *apptest.Response) {
					c.noSecret(r)
					changed := strings.Contains(string(c.owned(c.project("/consumers/"+c.w.consumer)).Body), "198.51.100.0/24")
					if changed != (r.Status == http.StatusSeeOther && c.p.kind != mxAnon) {
						c.t.Errorf("consumer changed = %v after status %d", changed, r.Status)
					}
				}}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 403, GroupAdmin: 303, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		// Changing a consumer's auth settings from its page (as PATCH with
		// an auth object of the same type): credentials work.
		{route: "POST /projects/{p}/consumers/{c}/auth", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			return mxCall{path: "/projects/" + c.w.project + "/consumers/" + c.w.consumer + "/auth",
				body: url.Values{"auth.style": {"shopify"}},
				check: func(r *apptest.Response) {
					c.noSecret(r)
					changed := strings.Contains(string(c.owned(c.project("/consumers/"+c.w.consumer)).Body), "shopify")
					if changed != (r.Status == http.StatusSeeOther && c.p.kind != mxAnon) {
						c.t.Errorf("consumer auth changed = %v after status %d", changed, r.Status)
					}
				}}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 403, GroupAdmin: 303, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "GET /projects/{p}/consumers", req: func(c *mxCell) mxCall {
			return mxCall{path: "/projects/" + c.w.project + "/consumers", check: func(r *apptest.Response) {
				c.pageOrLogin("consumers-table")(r)
				c.noSecret(r)
			}}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "POST /projects/{p}/consumers", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			return mxCall{path: "/projects/" + c.w.project + "/consumers", body: url.Values{"name": {"page consumer"}, "flows": {c.w.flow},
				"auth.type": {"basic"}, "rate_per_second": {"50"}, "rate_burst": {"100"}}, check: func(r *apptest.Response) {
				allowed := r.Status == http.StatusOK
				if allowed && !strings.Contains(string(r.Body), `id="consumer-secret"`) {
					c.t.Errorf("the created consumer's page shows no secret: %s", r.Body)
				}
				if got := strings.Contains(string(c.owned(c.project("/consumers")).Body), "page consumer"); got != allowed {
					c.t.Errorf("consumer exists = %v after status %d", got, r.Status)
				}
			}}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 403, GroupAdmin: 200, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "GET /projects/{p}/consumers/{c}", req: func(c *mxCell) mxCall {
			return mxCall{path: "/projects/" + c.w.project + "/consumers/" + c.w.consumer, check: func(r *apptest.Response) {
				c.pageOrLogin("consumer-facts")(r)
				c.noSecret(r)
			}}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "POST /projects/{p}/consumers/{c}/secret", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			return mxCall{path: "/projects/" + c.w.project + "/consumers/" + c.w.consumer + "/secret", body: url.Values{}, check: func(r *apptest.Response) {
				c.noSecret(r)
				if r.Status == http.StatusOK && !strings.Contains(string(r.Body), `id="consumer-secret"`) {
					c.t.Errorf("rotation shows no new secret: %s", r.Body)
				}
			}}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 403, GroupAdmin: 200, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "POST /projects/{p}/consumers/{c}/delete", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			return mxCall{path: "/projects/" + c.w.project + "/consumers/" + c.w.consumer + "/delete", body: url.Values{}, check: func(r *apptest.Response) {
				allowed := r.Status == http.StatusSeeOther && c.p.kind != mxAnon
				want := map[bool]int{true: http.StatusNotFound, false: http.StatusOK}[allowed]
				if got := c.status(c.as(mxOwner), c.project("/consumers/"+c.w.consumer)); got != want {
					c.t.Errorf("the consumer answers %d to its owner after status %d, want %d", got, r.Status, want)
				}
			}}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 403, GroupAdmin: 303, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 303}},

		// Console pages of members, settings and the activity log
		// (console/access.go): the same actions as their API twins. An
		// allowed post redirects to its result; each check reads the state
		// back through the API as the owner.
		{route: "GET /projects/{p}/members", req: func(c *mxCell) mxCall {
			return mxCall{path: "/projects/" + c.w.project + "/members", check: c.pageOrLogin("members-table")}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 200, GroupAdmin: 200, GroupStandard: 200, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "POST /projects/{p}/members", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			key := "user:" + c.w.users[mxOutsider].id
			return mxCall{path: "/projects/" + c.w.project + "/members", body: url.Values{"user": {c.w.users[mxOutsider].email}, "role": {"standard"}},
				check: func(r *apptest.Response) {
					allowed := r.Status == http.StatusSeeOther && c.p.kind != mxAnon
					if allowed {
						c.redirectsTo(r, "/projects/"+c.w.project+"/members?notice=granted")
					}
					want := map[bool]string{true: "standard", false: ""}[allowed]
					if got := c.members()[key]; got != want {
						c.t.Errorf("the outsider's role %q after status %d, want %q", got, r.Status, want)
					}
				}}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 403, GroupAdmin: 303, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "POST /projects/{p}/members/invite", fresh: mxFreshProject, instanceAdmin: true, req: func(c *mxCell) mxCall {
			// Inviting creates an account: an instance administrator's,
			// and a project manager who is not one is refused. (The
			// matrix's instance administrator has no role on the project;
			// invitations_test.go covers the one who has.)
			email := fmt.Sprintf("member-invite-%d@example.com", c.fx.next())
			return mxCall{path: "/projects/" + c.w.project + "/members/invite", body: url.Values{"email": {email}, "role": {"standard"}},
				check: func(*apptest.Response) { c.noUser(email) }}
		}, want: mxExpect{Owner: 403, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "POST /projects/{p}/members/{m}/role", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			m := c.w.members[mxStandard]
			return mxCall{path: "/projects/" + c.w.project + "/members/" + m + "/role", body: url.Values{"role": {"admin"}}, check: func(r *apptest.Response) {
				want := map[bool]string{true: "admin", false: "standard"}[r.Status == http.StatusSeeOther && c.p.kind != mxAnon]
				if got := c.members()[m]; got != want {
					c.t.Errorf("the member's role %q after status %d, want %q", got, r.Status, want)
				}
			}}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 403, GroupAdmin: 303, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "POST /projects/{p}/members/{m}/revoke", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			m := c.w.members[mxStandard]
			return mxCall{path: "/projects/" + c.w.project + "/members/" + m + "/revoke", body: url.Values{}, check: func(r *apptest.Response) {
				want := map[bool]string{true: "", false: "standard"}[r.Status == http.StatusSeeOther && c.p.kind != mxAnon]
				if got := c.members()[m]; got != want {
					c.t.Errorf("the member's role %q after status %d, want %q", got, r.Status, want)
				}
			}}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 403, GroupAdmin: 303, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "POST /projects/{p}/transfer", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			to := c.w.users[mxStandard].id
			return mxCall{path: "/projects/" + c.w.project + "/transfer", body: url.Values{"user_id": {to}, "password": {c.credentials().password}},
				check: func(r *apptest.Response) {
					want := map[bool]string{true: to, false: c.w.users[mxOwner].id}[r.Status == http.StatusSeeOther && c.p.kind != mxAnon]
					if got := c.as(mxOwner).Do(c.t, "GET", c.project(""), nil).String("owner.id"); got != want {
						c.t.Errorf("owner %s after status %d, want %s", got, r.Status, want)
					}
				}}
		}, want: mxExpect{Owner: 303, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "POST /projects/{p}/delete", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			return mxCall{path: "/projects/" + c.w.project + "/delete", body: url.Values{"password": {c.credentials().password}}, check: func(r *apptest.Response) {
				want := map[bool]int{true: 404, false: 200}[r.Status == http.StatusSeeOther && c.p.kind != mxAnon]
				c.wantGet(c.as(mxOwner), c.project(""), want, "the owner reading the project")
			}}
		}, want: mxExpect{Owner: 303, Admin: 403, Standard: 403, GroupAdmin: 403, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "GET /projects/{p}/settings", req: func(c *mxCell) mxCall {
			return mxCall{path: "/projects/" + c.w.project + "/settings", check: c.pageOrLogin("settings-form")}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 403, GroupAdmin: 200, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "POST /projects/{p}/settings", fresh: mxFreshProject, req: func(c *mxCell) mxCall {
			return mxCall{path: "/projects/" + c.w.project + "/settings", body: url.Values{"time_zone": {"Europe/Berlin"}}, check: func(r *apptest.Response) {
				allowed := r.Status == http.StatusSeeOther && c.p.kind != mxAnon
				if allowed {
					c.redirectsTo(r, "/projects/"+c.w.project+"/settings?notice=saved")
				}
				want := map[bool]string{true: "Europe/Berlin", false: "UTC"}[allowed]
				if got := c.owned(c.project("")).String("settings.time_zone"); got != want {
					c.t.Errorf("time zone %q after status %d, want %q", got, r.Status, want)
				}
			}}
		}, want: mxExpect{Owner: 303, Admin: 303, Standard: 403, GroupAdmin: 303, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
		{route: "GET /projects/{p}/activity", req: func(c *mxCell) mxCall {
			return mxCall{path: "/projects/" + c.w.project + "/activity", check: c.pageOrLogin("activity-filters")}
		}, want: mxExpect{Owner: 200, Admin: 200, Standard: 403, GroupAdmin: 200, GroupStandard: 403, Outsider: 404, InstanceAdmin: 404, Anon: 303}},
	}
}

// matrixPostgresRows are the rows the matrix also runs on PostgreSQL, where what
// differs is the SQL: the effective-role query, the grants, and the
// pipe and flow writes (with the role re-read in their transactions).
var matrixPostgresRows = map[string]bool{
	"GET /api/v1/projects":                                                  true,
	"GET /api/v1/projects/{p}":                                              true,
	"PATCH /api/v1/projects/{p}":                                            true,
	"DELETE /api/v1/projects/{p}":                                           true,
	"POST /api/v1/projects/{p}/members":                                     true,
	"PATCH /api/v1/projects/{p}/members/{m}":                                true,
	"GET /api/v1/users":                                                     true,
	"DELETE /api/v1/groups/{id}/members/{user}":                             true,
	"PATCH /api/v1/projects/{p}/pipes/{pipe}":                               true,
	"PUT /api/v1/projects/{p}/pipes/{pipe}/flows/{f}":                       true,
	"POST /api/v1/projects/{p}/pipes/{pipe}/flows/{f}/runs":                 true,
	"DELETE /api/v1/projects/{p}/runs/{r}":                                  true,
	"POST /api/v1/projects/{p}/pipes/{pipe}/flows/{f}/versions/{v}/restore": true,
}

// TestMatrix runs every row as every principal on SQLite, and the rows of
// matrixPostgresRows on PostgreSQL; cells run in parallel on one instance.
func TestMatrix(t *testing.T) {
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		fx := newMatrixFixture(t, d)
		routes := fx.inst.App.Server.Routes()
		rows := matrixRows()
		checkMatrixCoverage(t, routes, rows)
		crossCheckMatrix(t, routes, rows)
		mux := http.NewServeMux()
		for _, rt := range routes {
			mux.Handle(rt.Pattern(), http.NotFoundHandler())
		}
		for _, rw := range rows {
			if d != store.SQLite && !matrixPostgresRows[rw.route] {
				continue
			}
			t.Run(rw.route, func(t *testing.T) {
				t.Parallel()
				for _, p := range mxPrincipals() {
					t.Run(p.String(), func(t *testing.T) {
						t.Parallel()
						runMatrixCell(t, fx, mux, rw, p)
					})
				}
			})
		}
	})
}

// runMatrixCell sends one row's request as one principal against state of its
// own where the row needs it.
func runMatrixCell(t *testing.T, fx *mxFixture, mux *http.ServeMux, rw mxRow, p mxPrincipal) {
	w := fx.common
	switch {
	case rw.fresh == mxFreshProject:
		w = fx.newWorld(t, mxAnon)
	case rw.fresh == mxFreshUser && p.kind != mxAnon:
		w = fx.newWorld(t, p.kind)
	}
	c := &mxCell{t: t, fx: fx, w: w, p: p}
	cl := c.client()
	req := rw.req(c)
	method, _, _ := strings.Cut(rw.route, " ")
	if _, pattern := mux.Handler(httptest.NewRequest(method, req.path, nil)); pattern != rw.route {
		t.Fatalf("the row's request %s %s reaches %q, not its own route", method, req.path, pattern)
	}
	var r *apptest.Response
	if form, ok := req.body.(url.Values); ok {
		r = cl.Raw(t, method, req.path, "application/x-www-form-urlencoded", []byte(form.Encode()))
	} else {
		r = cl.Do(t, method, req.path, req.body)
	}
	want := rw.want.of(p.kind)
	if p.viaKey && rw.keyWant != nil {
		want = rw.keyWant.of(p.kind)
	}
	if r.Status != want {
		t.Fatalf("%s %s as %s: status %d, want %d; body %s", method, req.path, p, r.Status, want, r.Body)
	}
	if r.Status >= 400 && strings.HasPrefix(req.path, "/api/") {
		checkErrorShape(t, r, rw.route+" as "+p.String())
	}
	if req.check != nil {
		req.check(r)
	}
}

// checkMatrixCoverage fails unless the table has exactly one row per route
// of the server, each with a status for every kind of principal.
func checkMatrixCoverage(t *testing.T, routes []httpx.Route, rows []mxRow) {
	t.Helper()
	exists := map[string]bool{}
	for _, rt := range routes {
		exists[rt.Pattern()] = true
	}
	seen := map[string]bool{}
	for _, rw := range rows {
		if seen[rw.route] {
			t.Errorf("two rows for %s: keep one", rw.route)
		}
		seen[rw.route] = true
		if !exists[rw.route] {
			t.Errorf("row %q names no route of the server: fix its method and pattern or remove it", rw.route)
		}
		for _, w := range mxWhos {
			if rw.want.of(w) == 0 {
				t.Errorf("row %s has no status for %s", rw.route, w)
			}
		}
	}
	for _, rt := range routes {
		if !seen[rt.Pattern()] {
			t.Errorf("route %s (access %s) has no row in the matrix table: add one with the status every principal must get", rt.Pattern(), rt.Access)
		}
	}
}

// mxProjectRole is the role each kind holds on a world's project.
var mxProjectRole = map[mxWho]access.Role{mxOwner: access.Owner, mxAdmin: access.Admin, mxStandard: access.Standard,
	mxGroupAdmin: access.Admin, mxGroupStandard: access.Standard, mxOutsider: access.None, mxInstanceAdmin: access.None}

// crossCheckMatrix checks the literal table against what the route table
// and access.Matrix imply, so the two cannot drift apart silently: it is a
// cross-check, not where the expectations come from.
func crossCheckMatrix(t *testing.T, routes []httpx.Route, rows []mxRow) {
	t.Helper()
	byPattern := map[string]httpx.Route{}
	for _, rt := range routes {
		byPattern[rt.Pattern()] = rt
	}
	for _, rw := range rows {
		rt, ok := byPattern[rw.route]
		if !ok {
			continue
		}
		page := !strings.HasPrefix(rt.Path, "/api/")
		for _, w := range mxWhos {
			got := rw.want.of(w)
			refused := got == 401 || got == 403 || got == 404
			var want string
			switch {
			case rt.Access == httpx.Consumer:
				// No user, signed in or not, is a service consumer.
				want = "401 (a service consumer's credentials only)"
				if got == 401 {
					continue
				}
			case w == mxAnon && rt.Access != httpx.Public && page:
				want = "303 (to the login page)"
				if got == 303 {
					continue
				}
			case w == mxAnon && rt.Access != httpx.Public:
				want = "401"
				if got == 401 {
					continue
				}
			case w == mxAnon:
				want = "not 401/403/404 (a public route)"
				if !refused {
					continue
				}
			case rt.Action != "" && mxProjectRole[w] == access.None:
				want = "404 (no role on the project)"
				if got == 404 {
					continue
				}
			case rw.instanceAdmin && rt.Action != "" && w != mxInstanceAdmin:
				want = "403 (an instance administrator's, whatever the project role)"
				if got == 403 {
					continue
				}
			case rt.Action != "" && access.Can(mxProjectRole[w], rt.Action):
				want = fmt.Sprintf("allowed (%s may %s)", mxProjectRole[w], rt.Action)
				if !refused {
					continue
				}
			case rt.Action != "":
				want = fmt.Sprintf("403 (%s may not %s)", mxProjectRole[w], rt.Action)
				if got == 403 {
					continue
				}
			case rt.Access == httpx.Admin && w != mxInstanceAdmin:
				want = "403 (instance administrators only)"
				if got == 403 {
					continue
				}
			default:
				want = "allowed"
				if !refused {
					continue
				}
			}
			t.Errorf("row %s says %d for %s; the route table and access.Matrix say %s", rw.route, got, w, want)
		}
	}
}

// noUser fails unless no account has email.
func (c *mxCell) noUser(email string) {
	c.t.Helper()
	if c.user(email) != nil {
		c.t.Errorf("the account %s was created", email)
	}
}

// wantUser fails unless an account has email.
func (c *mxCell) wantUser(email string) {
	c.t.Helper()
	if c.user(email) == nil {
		c.t.Errorf("the account %s was not created", email)
	}
}

// groupNamed reports whether a group has name.
func (c *mxCell) groupNamed(name string) bool {
	c.t.Helper()
	gs, err := c.fx.inst.App.Store.Reader().ListGroups(context.Background())
	if err != nil {
		c.t.Fatal(err)
	}
	for _, g := range gs {
		if g.Name == name {
			return true
		}
	}
	return false
}

// wantGet fails unless a GET of path by client answers status.
func (c *mxCell) wantGet(client *apptest.Client, path string, status int, what string) {
	c.t.Helper()
	if got := c.status(client, path); got != status {
		c.t.Errorf("%s: GET %s answers %d, want %d", what, path, got, status)
	}
}

// redirectsTo checks the Location of a redirect (other answers pass).
func (c *mxCell) redirectsTo(r *apptest.Response, location string) {
	c.t.Helper()
	if r.Status == http.StatusSeeOther && r.Header.Get("Location") != location {
		c.t.Errorf("redirects to %q, want %q", r.Header.Get("Location"), location)
	}
}

// newSessionCookie checks that a login answer set a session cookie.
func (c *mxCell) newSessionCookie(r *apptest.Response) {
	c.t.Helper()
	if ck := setCookie(r, mxSessionCookie); ck == nil || ck.Value == "" {
		c.t.Errorf("login set no session cookie: %q", r.Header.Values("Set-Cookie"))
	}
}

// loggedOut checks what a logout did: a session is ended; an API key,
// which a logout does not revoke, keeps working.
func (c *mxCell) loggedOut() {
	c.t.Helper()
	switch {
	case c.p.kind == mxAnon:
	case c.p.viaKey:
		c.wantGet(c.fx.keyClient(c.me()), "/api/v1/me", 200, "the key after a logout sent with it")
	default:
		c.wantGet(c.fx.session(c.t, c.me()), "/api/v1/me", 401, "the session after its logout")
	}
}

// TestMatrixNotFoundIsIdentical: a project the caller has no role on
// answers exactly like one that does not exist, status and body, so a
// project ID leaks nothing; and the refused requests changed nothing.
func TestMatrixNotFoundIsIdentical(t *testing.T) {
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		fx := newMatrixFixture(t, d)
		w := fx.common
		c := &mxCell{t: t, fx: fx, w: w}
		std := w.members[mxStandard]
		probes := []struct {
			method, suffix string
			body           map[string]any
		}{
			{"GET", "", nil},
			{"PATCH", "", map[string]any{"name": "Probe"}},
			{"DELETE", "", map[string]any{"password": "<own>"}},
			{"GET", "/members", nil},
			{"PATCH", "/members/" + std, map[string]any{"role": "admin"}},
			{"DELETE", "/members/" + std, nil},
			{"GET", "/pipes", nil},
			{"POST", "/pipes", map[string]any{"name": "Probe"}},
			{"PATCH", "/pipes/" + w.pipe, map[string]any{"name": "Probe"}},
			{"PUT", "/pipes/" + w.pipe + "/flows/" + w.flow, map[string]any{"definition": mxFlowDefinition("probe")}},
			{"POST", "/pipes/" + w.pipe + "/flows/" + w.flow + "/versions/1/restore", nil},
		}
		callers := map[string]struct {
			client *apptest.Client
			a      *mxUser
		}{
			"outsider/session":       {fx.session(t, w.users[mxOutsider]), w.users[mxOutsider]},
			"outsider/api-key":       {fx.keyClient(w.users[mxOutsider]), w.users[mxOutsider]},
			"instance-admin/session": {fx.session(t, w.users[mxInstanceAdmin]), w.users[mxInstanceAdmin]},
			"instance-admin/api-key": {fx.keyClient(w.users[mxInstanceAdmin]), w.users[mxInstanceAdmin]},
			"owner/session":          {fx.session(t, w.users[mxOwner]), w.users[mxOwner]},
		}
		body := func(b map[string]any, a *mxUser) map[string]any {
			if b["password"] == "<own>" {
				return map[string]any{"password": a.password}
			}
			return b
		}
		for _, pr := range probes {
			what := pr.method + " /api/v1/projects/{p}" + strings.NewReplacer(std, "{m}", w.pipe, "{pipe}", w.flow, "{f}").Replace(pr.suffix)
			// The reference: the owner asking about a project that was never created.
			ref := callers["owner/session"].client.Do(t, pr.method, "/api/v1/projects/"+store.NewID()+pr.suffix, body(pr.body, w.users[mxOwner]))
			wantError(t, ref, http.StatusNotFound, "not_found", what+" of a missing project")
			for name, cl := range callers {
				targets := map[string]string{"a missing project": store.NewID(), "a malformed ID": "not-a-project"}
				if name != "owner/session" {
					targets["the project"] = w.project
				}
				for tname, id := range targets {
					r := cl.client.Do(t, pr.method, "/api/v1/projects/"+id+pr.suffix, body(pr.body, cl.a))
					if r.Status != ref.Status || !bytes.Equal(r.Body, ref.Body) || r.Header.Get("Content-Type") != ref.Header.Get("Content-Type") {
						t.Errorf("%s by %s on %s: %d %s\nwant exactly the missing project's answer: %d %s", what, name, tname, r.Status, r.Body, ref.Status, ref.Body)
					}
				}
			}
		}
		r := fx.session(t, w.users[mxOwner]).Do(t, "GET", c.project(""), nil)
		if r.Status != http.StatusOK || r.String("name") != w.name {
			t.Errorf("the probes changed the project: %d %s", r.Status, r.Body)
		}
		if got := c.members()[std]; got != "standard" {
			t.Errorf("the probes changed the standard member's role to %q", got)
		}
		if r := c.owned(c.flowAt("")); r.Get("version") != float64(1) || r.String("name") != "orders" {
			t.Errorf("the probes changed the flow: %s", r.Body)
		}
		if r := c.owned(c.pipeline("")); r.String("name") != "Shop ↔ ERP" {
			t.Errorf("the probes changed the pipe: %s", r.Body)
		}
	})
}

// TestMatrixRolesAreNotCached: a change to what a user may do takes effect
// on their very next request, through the same session and the same API
// key (DESIGN §4: no permissions cached in sessions or keys).
func TestMatrixRolesAreNotCached(t *testing.T) {
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		fx := newMatrixFixture(t, d)
		// both sends a request through the same session and the same key
		// and wants the same status from each.
		type pair struct{ session, key *apptest.Client }
		both := func(t *testing.T, p pair, method, path string, body any, status int, what string) {
			t.Helper()
			for name, cl := range map[string]*apptest.Client{"session": p.session, "api key": p.key} {
				if r := cl.Do(t, method, path, body); r.Status != status {
					t.Errorf("%s through the %s: %d, want %d; body %s", what, name, r.Status, status, r.Body)
				}
			}
		}
		rename := func(n int) map[string]any { return map[string]any{"name": fmt.Sprintf("Renamed %d", n)} }

		t.Run("leaving the group", func(t *testing.T) {
			w := fx.newWorld(t, mxGroupAdmin)
			u := w.users[mxGroupAdmin]
			p := pair{fx.session(t, u), fx.keyClient(u)}
			path := "/api/v1/projects/" + w.project
			both(t, p, "PATCH", path, rename(1), 200, "group admin renames")
			wantStatus(t, fx.root(t).Do(t, "DELETE", "/api/v1/groups/"+w.groups[mxGroupAdmin]+"/members/"+u.id, nil), 204, "remove from group")
			both(t, p, "PATCH", path, rename(2), 404, "renaming after leaving the group")
			both(t, p, "GET", path, nil, 404, "reading after leaving the group")
		})
		t.Run("admin switched to standard", func(t *testing.T) {
			w := fx.newWorld(t, mxAdmin)
			u := w.users[mxAdmin]
			p := pair{fx.session(t, u), fx.keyClient(u)}
			path := "/api/v1/projects/" + w.project
			both(t, p, "PATCH", path, rename(1), 200, "admin renames")
			own := fx.session(t, w.users[mxOwner])
			wantStatus(t, own.Do(t, "PATCH", path+"/members/"+w.members[mxAdmin], map[string]any{"role": "standard"}), 200, "switch to standard")
			both(t, p, "PATCH", path, rename(2), 403, "renaming as standard")
			both(t, p, "GET", path, nil, 200, "reading as standard")
		})
		t.Run("group switched to standard", func(t *testing.T) {
			w := fx.newWorld(t, mxGroupAdmin)
			u := w.users[mxGroupAdmin]
			p := pair{fx.session(t, u), fx.keyClient(u)}
			path := "/api/v1/projects/" + w.project
			both(t, p, "PATCH", path, rename(1), 200, "group admin renames")
			own := fx.session(t, w.users[mxOwner])
			wantStatus(t, own.Do(t, "PATCH", path+"/members/"+w.members[mxGroupAdmin], map[string]any{"role": "standard"}), 200, "switch the group to standard")
			both(t, p, "PATCH", path, rename(2), 403, "renaming through a standard group")
			wantStatus(t, own.Do(t, "DELETE", path+"/members/"+w.members[mxGroupAdmin], nil), 204, "revoke the group")
			both(t, p, "GET", path, nil, 404, "reading after the group's grant is revoked")
		})
	})
}

// noSecret fails the cell if an answer shows a connection's secret.
func (c *mxCell) noSecret(r *apptest.Response) {
	c.t.Helper()
	if strings.Contains(string(r.Body), "Matrix-Token-Secret") {
		c.t.Errorf("an answer shows a connection secret: %s", r.Body)
	}
}

// pageOrLogin checks a console page's answer: a page that shows want, or
// for anonymous a redirect to the login page.
func (c *mxCell) pageOrLogin(want string) func(r *apptest.Response) {
	return func(r *apptest.Response) {
		c.t.Helper()
		switch {
		case r.Status == http.StatusSeeOther && !strings.HasPrefix(r.Header.Get("Location"), "/login?next="):
			c.t.Errorf("redirects to %q, want the login page", r.Header.Get("Location"))
		case r.Status == http.StatusOK && !strings.Contains(string(r.Body), want):
			c.t.Errorf("the page does not show %q: %s", want, r.Body)
		}
	}
}

// flowPage is the console path of the world's flow, plus suffix.
func (c *mxCell) flowPage(suffix string) string {
	return "/projects/" + c.w.project + "/pipes/" + c.w.pipe + "/flows/" + c.w.flow + suffix
}

// inGroup says whether a user is a member of a group.
func (c *mxCell) inGroup(gid, uid string) bool {
	c.t.Helper()
	_, members, err := c.fx.inst.App.Accounts.Group(context.Background(), gid)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, m := range members {
		if m.UserID == uid {
			return true
		}
	}
	return false
}
