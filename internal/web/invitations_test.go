package web_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/store"
)

const deePW = "Marble-Harbor-Thistle-77"

// invite has admin invite email through the API and returns the answer
// and the token of its link.
func invite(t *testing.T, inst *apptest.Instance, admin *apptest.Client, email string, isAdmin bool) (*apptest.Response, string) {
	t.Helper()
	r := admin.Do(t, "POST", "/api/v1/users", map[string]any{"email": email, "name": "Dee", "admin": isAdmin, "invite": true})
	wantStatus(t, r, http.StatusCreated, "invite "+email)
	return r, inviteToken(t, inst, r)
}

// inviteToken is the token of the invite_url in an answer.
func inviteToken(t *testing.T, inst *apptest.Instance, r *apptest.Response) string {
	t.Helper()
	link := r.String("invite_url")
	if !strings.HasPrefix(link, inst.URL+"/invite?token=") {
		t.Fatalf("invite_url %q does not start with %s/invite?token=", link, inst.URL)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	tok := u.Query().Get("token")
	if len(tok) != 43 {
		t.Fatalf("token %q is not 32 bytes in base64url", tok)
	}
	return tok
}

// countInvitations counts the rows of the invitations table.
func countInvitations(t *testing.T, inst *apptest.Instance) int {
	t.Helper()
	var n int
	if err := inst.App.Store.WriteDB().QueryRowContext(context.Background(), `SELECT COUNT(*) FROM invitations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// accept posts the public acceptance with a fresh client.
func accept(t *testing.T, inst *apptest.Instance, token, password, name string) (*apptest.Response, *apptest.Client) {
	t.Helper()
	c := inst.NewClient()
	r := c.Do(t, "POST", "/api/v1/invitations/accept", map[string]any{"token": token, "password": password, "name": name})
	c.CSRF = r.String("csrf_token")
	return r, c
}

// TestInvitationFlow: an admin invites a colleague, who cannot log in until
// they accept; accepting sets the password, logs them in and uses the
// link up; the token is in no audit event and no log line.
func TestInvitationFlow(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, admin := startAdmin(t, apptest.Options{Dialect: d})
		r, token := invite(t, inst, admin, "Dee@Example.com", false)
		if r.String("email") != "dee@example.com" || r.String("status") != "invited" || r.Get("invited") != true || r.String("id") == "" {
			t.Fatalf("invite answer: %s", r.Body)
		}
		exp, err := time.Parse(time.RFC3339, r.String("invite_expires_at"))
		if err != nil || !exp.Equal(inst.Clock.Now().Add(account.InvitationTTL)) {
			t.Fatalf("invite_expires_at %q (%v), want 7 days from now", r.String("invite_expires_at"), err)
		}
		id := r.String("id")
		var hash string
		if err := inst.App.Store.WriteDB().QueryRowContext(context.Background(), `SELECT token_hash FROM invitations WHERE user_id = $1`, id).Scan(&hash); err != nil {
			t.Fatal(err)
		}
		if hash == token || strings.Contains(hash, token) || len(hash) != 64 {
			t.Fatalf("stored token_hash %q is not a SHA-256 of the token", hash)
		}

		list := admin.Do(t, "GET", "/api/v1/users", nil)
		var found bool
		for _, u := range list.Get("users").([]any) {
			m := u.(map[string]any)
			if m["id"] == id {
				found = m["status"] == "invited" && m["invited"] == true && m["invite_expires_at"] != nil
			} else if m["status"] != "active" {
				t.Errorf("the admin is listed as %v", m["status"])
			}
		}
		if !found {
			t.Fatalf("the invited user is not listed as invited: %s", list.Body)
		}

		// A pending account logs in with nothing, and is answered exactly
		// like an unknown one.
		pending, _ := login(t, inst, "dee@example.com", deePW, "")
		unknown, _ := login(t, inst, "nobody@example.com", deePW, "")
		wantError(t, pending, http.StatusUnauthorized, "invalid_credentials", "pending login")
		if string(pending.Body) != string(unknown.Body) {
			t.Fatalf("pending login %s differs from unknown login %s", pending.Body, unknown.Body)
		}
		empty, _ := login(t, inst, "dee@example.com", "", "")
		wantError(t, empty, http.StatusUnauthorized, "invalid_credentials", "pending login with an empty password")

		// The page of the link greets the colleague.
		page := inst.NewClient().Do(t, "GET", "/invite?token="+url.QueryEscape(token), nil)
		wantStatus(t, page, http.StatusOK, "invite page")
		if !strings.Contains(string(page.Body), "dee@example.com") || !strings.Contains(string(page.Body), `name="password2"`) {
			t.Fatalf("invite page: %s", page.Body)
		}

		ok, dee := accept(t, inst, token, deePW, "Dee Dee")
		wantStatus(t, ok, http.StatusOK, "accept")
		if ok.String("user.email") != "dee@example.com" || ok.String("user.name") != "Dee Dee" || ok.String("csrf_token") == "" || sessionCookie(dee) == "" {
			t.Fatalf("accept answer: %s", ok.Body)
		}
		me := dee.Do(t, "GET", "/api/v1/me", nil)
		wantStatus(t, me, http.StatusOK, "me after accepting")
		if r, _ := login(t, inst, "dee@example.com", deePW, ""); r.Status != http.StatusOK {
			t.Fatalf("login with the new password: %d %s", r.Status, r.Body)
		}

		// Used: refused with the one message, and nothing changes.
		before, n := snap(t, inst), countInvitations(t, inst)
		again, _ := accept(t, inst, token, "Another-Fine-Password-8", "")
		wantError(t, again, http.StatusForbidden, "invalid_invitation", "used token")
		if !strings.Contains(again.String("error.message"), "invalid or has expired: ask your administrator for a new one") {
			t.Fatalf("used token message: %s", again.Body)
		}
		b2 := snap(t, inst)
		before.AuditEvents, b2.AuditEvents = 0, 0 // the refusal is audited
		if b2 != before || countInvitations(t, inst) != n {
			t.Fatalf("a used token changed the store")
		}
		if r, _ := login(t, inst, "dee@example.com", deePW, ""); r.Status != http.StatusOK {
			t.Fatalf("the password changed after a refused reuse: %d", r.Status)
		}
		gone := inst.NewClient().Do(t, "GET", "/invite?token="+url.QueryEscape(token), nil)
		wantStatus(t, gone, http.StatusForbidden, "used link page")
		if !strings.Contains(string(gone.Body), "ask your administrator for a new one") || strings.Contains(string(gone.Body), `name="password"`) {
			t.Fatalf("used link page: %s", gone.Body)
		}

		// A new link for someone who has a password is refused.
		re := admin.Do(t, "POST", "/api/v1/users/"+id+"/invitation", nil)
		wantError(t, re, http.StatusConflict, "invitation_accepted", "new link for an active user")

		// Audit: both events, and never the token.
		events := admin.Do(t, "GET", "/api/v1/audit", nil)
		for _, action := range []string{`"user.invite"`, `"user.invite_accept"`} {
			if !strings.Contains(string(events.Body), action) {
				t.Errorf("no %s event: %s", action, events.Body)
			}
		}
		for what, text := range map[string]string{"audit": string(events.Body), "logs": inst.Logs.String() + inst.Out.String()} {
			if strings.Contains(text, token) || strings.Contains(text, deePW) {
				t.Errorf("the %s hold the token or the password", what)
			}
		}
	})
}

// TestInvitationExpiry: a link works for 7 days; after that it is refused
// with the same message, and a new link (which voids the old) works.
func TestInvitationExpiry(t *testing.T) {
	t.Parallel()
	inst, admin := startAdmin(t, apptest.Options{})
	r, old := invite(t, inst, admin, "dee@example.com", true)
	id := r.String("id")
	inst.Clock.Advance(account.InvitationTTL + time.Minute)

	before := snap(t, inst)
	late, _ := accept(t, inst, old, deePW, "")
	wantError(t, late, http.StatusForbidden, "invalid_invitation", "expired token")
	after := snap(t, inst)
	before.AuditEvents, after.AuditEvents = 0, 0
	if before != after {
		t.Fatal("an expired token changed the store")
	}
	page := inst.NewClient().Do(t, "GET", "/invite?token="+old, nil)
	wantStatus(t, page, http.StatusForbidden, "expired link page")

	admin = inst.Login(t, adminEmail, adminPW) // the session outlived its 7 days too
	list := admin.Do(t, "GET", "/api/v1/users", nil)
	if !strings.Contains(string(list.Body), `"status":"invited"`) {
		t.Fatalf("an expired invitation is still listed as invited: %s", list.Body)
	}
	if page := admin.Do(t, "GET", "/users", nil); !strings.Contains(string(page.Body), "link expired: make a new one") {
		t.Fatalf("the users page does not say the link expired: %s", page.Body)
	}

	re := admin.Do(t, "POST", "/api/v1/users/"+id+"/invitation", nil)
	wantStatus(t, re, http.StatusCreated, "new link")
	fresh := inviteToken(t, inst, re)
	if fresh == old {
		t.Fatal("the new link has the old token")
	}
	// A second new link voids the first new one.
	re2 := admin.Do(t, "POST", "/api/v1/users/"+id+"/invitation", nil)
	wantStatus(t, re2, http.StatusCreated, "newer link")
	newest := inviteToken(t, inst, re2)
	if r, _ := accept(t, inst, fresh, deePW, ""); r.Status != http.StatusForbidden {
		t.Fatalf("a replaced link was accepted: %d %s", r.Status, r.Body)
	}
	ok, c := accept(t, inst, newest, deePW, "")
	wantStatus(t, ok, http.StatusOK, "accept the newest link")
	if ok.Get("user.admin") != true {
		t.Fatalf("the invited admin is not an admin: %s", ok.Body)
	}
	wantStatus(t, c.Do(t, "GET", "/api/v1/users", nil), http.StatusOK, "the invited admin lists users")
}

// TestInvitationAccess: only instance administrators invite or make new
// links; a refused call changes nothing.
func TestInvitationAccess(t *testing.T) {
	t.Parallel()
	inst, admin, _ := startWithUser(t, apptest.Options{})
	r, _ := invite(t, inst, admin, "dee@example.com", false)
	dee := r.String("id")
	_, standard := login(t, inst, userEmail, userPW, "")
	standardKey, _ := inst.APIKey(t, standard, 0)
	anon := inst.NewClient()
	for name, c := range map[string]*apptest.Client{"standard": standard, "standard key": standardKey, "anonymous": anon} {
		want, code := http.StatusForbidden, "forbidden"
		if name == "anonymous" {
			want, code = http.StatusUnauthorized, "unauthenticated"
		}
		before, n := snap(t, inst), countInvitations(t, inst)
		r := c.Do(t, "POST", "/api/v1/users", map[string]any{"email": "eve@example.com", "invite": true})
		wantError(t, r, want, code, name+": invite")
		r = c.Do(t, "POST", "/api/v1/users/"+dee+"/invitation", nil)
		wantError(t, r, want, code, name+": new link")
		sameState(t, inst, before, name)
		if countInvitations(t, inst) != n {
			t.Fatalf("%s: a refused call changed the invitations", name)
		}
	}
	// An unknown user has no invitation to renew.
	wantError(t, admin.Do(t, "POST", "/api/v1/users/nobody/invitation", nil), http.StatusNotFound, "", "new link for nobody")
}

// TestInvitationBadInput: each bad request is a clear 422 (or 403 for a bad
// link) naming its field, and changes nothing.
func TestInvitationBadInput(t *testing.T) {
	t.Parallel()
	inst, admin := startAdmin(t, apptest.Options{})
	_, token := invite(t, inst, admin, "dee@example.com", false)
	tests := []struct {
		name   string
		path   string
		body   map[string]any
		status int
		code   string
		field  string
	}{
		{name: "missing email", path: "/api/v1/users", body: map[string]any{"invite": true, "name": "x"}, status: 422, code: "invalid_field", field: "email"},
		{name: "bad email", path: "/api/v1/users", body: map[string]any{"invite": true, "email": "not an email"}, status: 422, code: "invalid_field", field: "email"},
		{name: "password with invite", path: "/api/v1/users", body: map[string]any{"invite": true, "email": "eve@example.com", "password": deePW}, status: 422, code: "invalid_field", field: "password"},
		{name: "control character in name", path: "/api/v1/users", body: map[string]any{"invite": true, "email": "eve@example.com", "name": "a\x07b"}, status: 422, code: "invalid_field", field: "name"},
		{name: "email in use", path: "/api/v1/users", body: map[string]any{"invite": true, "email": adminEmail}, status: 409, code: "conflict"},
		{name: "weak password", path: "/api/v1/invitations/accept", body: map[string]any{"token": token, "password": "password1234"}, status: 422, code: "invalid_field", field: "password"},
		{name: "short password", path: "/api/v1/invitations/accept", body: map[string]any{"token": token, "password": "Abcdefgh-1!"}, status: 422, code: "invalid_field", field: "password"},
		{name: "missing token", path: "/api/v1/invitations/accept", body: map[string]any{"password": deePW}, status: 403, code: "invalid_invitation", field: "token"},
		{name: "wrong token", path: "/api/v1/invitations/accept", body: map[string]any{"token": strings.Repeat("A", 43), "password": deePW}, status: 403, code: "invalid_invitation", field: "token"},
	}
	for _, tt := range tests {
		before, n := snap(t, inst), countInvitations(t, inst)
		c := admin
		if strings.HasPrefix(tt.path, "/api/v1/invitations") {
			c = inst.NewClient()
		}
		r := c.Do(t, "POST", tt.path, tt.body)
		wantError(t, r, tt.status, tt.code, tt.name)
		if tt.field != "" && errorField(r) != tt.field {
			t.Errorf("%s: error names %q, want %q", tt.name, errorField(r), tt.field)
		}
		after := snap(t, inst)
		if tt.code == "invalid_invitation" {
			before.AuditEvents, after.AuditEvents = 0, 0 // a refused link is audited
		}
		if before != after || countInvitations(t, inst) != n {
			t.Fatalf("%s changed the store", tt.name)
		}
	}
	// The link still works after all that.
	ok, _ := accept(t, inst, token, deePW, "")
	wantStatus(t, ok, http.StatusOK, "accept after refusals")
}

// TestInvitationThrottle: wrong links count against the per-IP throttle,
// like failed logins, so links cannot be guessed.
func TestInvitationThrottle(t *testing.T) {
	t.Parallel()
	inst, admin := startAdmin(t, apptest.Options{Account: account.Config{IPFailures: 3}})
	_, token := invite(t, inst, admin, "dee@example.com", false)
	for i := 0; i < 3; i++ {
		r, _ := accept(t, inst, strings.Repeat("B", 43), deePW, "")
		wantError(t, r, http.StatusForbidden, "invalid_invitation", "guess")
	}
	r, _ := accept(t, inst, token, deePW, "")
	wantError(t, r, http.StatusTooManyRequests, "too_many_attempts", "the right link after too many guesses")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	inst.Clock.Advance(2 * time.Hour)
	r, _ = accept(t, inst, token, deePW, "")
	wantStatus(t, r, http.StatusOK, "accept once the lockout is over")
}

// TestInvitationTokenNotLogged: the request log of the link's page and of
// its form post never holds the token.
func TestInvitationTokenNotLogged(t *testing.T) {
	t.Parallel()
	inst, admin := startAdmin(t, apptest.Options{})
	_, token := invite(t, inst, admin, "dee@example.com", false)
	anon := inst.NewClient()
	wantStatus(t, anon.Do(t, "GET", "/invite?token="+token, nil), http.StatusOK, "invite page")
	wantStatus(t, anon.Do(t, "GET", "/invite?token="+token+"x", nil), http.StatusForbidden, "invite page, wrong token")
	r := anon.Form(t, "/invite", url.Values{"token": {token}, "name": {"Dee"}, "password": {deePW}, "password2": {deePW}})
	wantStatus(t, r, http.StatusSeeOther, "accept form")
	if loc := r.Header.Get("Location"); loc != "/projects" {
		t.Fatalf("accept form redirects to %q", loc)
	}
	logs := inst.Logs.String()
	if !strings.Contains(logs, `/invite`) {
		t.Fatalf("the requests were not logged at all: %s", logs)
	}
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, token) {
			t.Fatalf("a log line holds the token: %s", line)
		}
	}
}

// invited has the setup account invite a new colleague, returning their
// user ID, email and link token (matrix cells each use their own).
func (fx *mxFixture) invited(t *testing.T) (id, email, token string) {
	t.Helper()
	email = fmt.Sprintf("invited-%d@example.com", fx.next())
	r := fx.root(t).Do(t, "POST", "/api/v1/users", map[string]any{"email": email, "invite": true})
	wantStatus(t, r, http.StatusCreated, "invite "+email)
	return r.String("id"), email, inviteToken(t, fx.inst, r)
}

// invitationHash is the token hash of a user's unused invitation ("" for
// none).
func (c *mxCell) invitationHash(userID string) string {
	c.t.Helper()
	var h string
	err := c.fx.inst.App.Store.WriteDB().QueryRowContext(context.Background(),
		`SELECT token_hash FROM invitations WHERE user_id = $1 AND used_at IS NULL`, userID).Scan(&h)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		c.t.Fatal(err)
	}
	return h
}

// accepted checks an acceptance of an invitation: on success the account
// has a password and the answer a session; else it is still pending.
func (c *mxCell) accepted(email string, ok bool) {
	c.t.Helper()
	if u := c.user(email); u == nil || account.Pending(u) == ok {
		c.t.Errorf("%s pending = %v, want %v", email, u != nil && account.Pending(u), !ok)
	}
}

// TestConsoleInvitations: the users page invites and shows the link once;
// the members page of an instance administrator invites and grants in one
// step; a project administrator who is not one is refused, and their
// grant form says whom to ask; bad input is beside its field and changes
// nothing.
func TestConsoleInvitations(t *testing.T) {
	t.Parallel()
	inst, admin, bobID := startWithUser(t, apptest.Options{})
	pid := admin.Do(t, "POST", "/api/v1/projects", map[string]any{"name": "Invites"}).String("id")
	wantStatus(t, admin.Do(t, "POST", "/api/v1/projects/"+pid+"/members", map[string]any{"user_id": bobID, "role": "admin"}), http.StatusCreated, "grant bob admin")
	bob := inst.Login(t, userEmail, userPW)

	// The users page: invite, the link once, the listing says invited.
	r := admin.Form(t, "/users", url.Values{"email": {"eve@example.com"}, "name": {"Eve"}})
	wantStatus(t, r, http.StatusCreated, "invite from /users")
	body := string(r.Body)
	if !strings.Contains(body, `id="invite-url"`) || !strings.Contains(body, inst.URL+"/invite?token=") || !strings.Contains(body, "invited") {
		t.Fatalf("the users page shows no link: %s", body)
	}
	page := admin.Do(t, "GET", "/users", nil)
	if strings.Contains(string(page.Body), "/invite?token=") || !strings.Contains(string(page.Body), "link expires") {
		t.Fatalf("the users page shows a link again, or no expiry: %s", page.Body)
	}
	for name, form := range map[string]url.Values{
		"bad email":   {"email": {"eve at example"}},
		"no email":    {"name": {"x"}},
		"email taken": {"email": {userEmail}},
	} {
		before, n := snap(t, inst), countInvitations(t, inst)
		r := admin.Form(t, "/users", form)
		if r.Status < 400 || !strings.Contains(string(r.Body), `id="error-invite-email"`) {
			t.Errorf("%s: status %d, no error beside the email: %s", name, r.Status, r.Body)
		}
		sameState(t, inst, before, name)
		if countInvitations(t, inst) != n {
			t.Errorf("%s made an invitation", name)
		}
	}

	// The members page of the owner, an instance administrator.
	members := "/projects/" + pid + "/members"
	if !strings.Contains(string(admin.Do(t, "GET", members, nil).Body), `id="invite-form"`) {
		t.Fatal("the instance administrator's members page has no invite form")
	}
	before := snap(t, inst)
	bad := admin.Form(t, members+"/invite", url.Values{"email": {"fay@example.com"}, "role": {"owner"}})
	if bad.Status != http.StatusUnprocessableEntity || !strings.Contains(string(bad.Body), `id="error-invite-role"`) {
		t.Fatalf("a bad role: %d %s", bad.Status, bad.Body)
	}
	sameState(t, inst, before, "a bad role")
	r = admin.Form(t, members+"/invite", url.Values{"email": {"Fay@Example.com"}, "name": {"Fay"}, "role": {"standard"}})
	wantStatus(t, r, http.StatusCreated, "invite from the members page")
	m := regexp.MustCompile(`/invite\?token=([A-Za-z0-9_-]{43})`).FindStringSubmatch(string(r.Body))
	if m == nil {
		t.Fatalf("the members page shows no link: %s", r.Body)
	}
	list := admin.Do(t, "GET", "/api/v1/projects/"+pid+"/members", nil)
	if !strings.Contains(string(list.Body), "fay@example.com") {
		t.Fatalf("fay was not granted: %s", list.Body)
	}
	ok, fay := accept(t, inst, m[1], deePW, "")
	wantStatus(t, ok, http.StatusOK, "fay accepts")
	wantStatus(t, fay.Do(t, "GET", "/api/v1/projects/"+pid, nil), http.StatusOK, "fay reads the project")
	wantStatus(t, fay.Do(t, "PATCH", "/api/v1/projects/"+pid, map[string]any{"description": "x"}), http.StatusForbidden, "fay (standard) configures")

	// A project administrator who is not an instance administrator.
	bp := string(bob.Do(t, "GET", members, nil).Body)
	if strings.Contains(bp, `id="invite-form"`) {
		t.Fatal("a project administrator sees the invite form")
	}
	before = snap(t, inst)
	r = bob.Form(t, members+"/invite", url.Values{"email": {"gil@example.com"}, "role": {"standard"}})
	wantStatus(t, r, http.StatusForbidden, "a project admin invites")
	sameState(t, inst, before, "a project admin's invitation")
	r = bob.Form(t, members, url.Values{"user": {"gil@example.com"}, "role": {"standard"}})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "ask an instance administrator to invite them (from Users)") {
		t.Fatalf("granting an unknown email: %d %s", r.Status, r.Body)
	}
}

// TestInvitationRace: many acceptances of one link at once; exactly one
// wins, on both databases.
func TestInvitationRace(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, admin := startAdmin(t, apptest.Options{Dialect: d})
		_, token := invite(t, inst, admin, "dee@example.com", false)
		const n = 8
		statuses := make(chan int, n)
		for i := 0; i < n; i++ {
			go func() {
				st, err := postStatus(inst.NewClient(), "POST", "/api/v1/invitations/accept", map[string]any{"token": token, "password": deePW})
				if err != nil {
					st = -1
				}
				statuses <- st
			}()
		}
		won := 0
		for i := 0; i < n; i++ {
			switch st := <-statuses; st {
			case http.StatusOK:
				won++
			case http.StatusForbidden:
			default:
				t.Errorf("a racing acceptance answered %d", st)
			}
		}
		if won != 1 {
			t.Fatalf("%d acceptances of one link succeeded, want 1", won)
		}
	})
}
