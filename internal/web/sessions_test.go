package web_test

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/store"
)

// TestSessions: a user lists their sessions, revokes one or all others,
// and cannot touch another user's.
func TestSessions(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, admin, _ := startWithUser(t, apptest.Options{Dialect: d})
		_, a := login(t, inst, userEmail, userPW, "")
		_, b := login(t, inst, userEmail, userPW, "")
		aID := a.Do(t, "GET", "/api/v1/me", nil).String("session_id")
		bID := b.Do(t, "GET", "/api/v1/me", nil).String("session_id")
		if aID == "" || bID == "" || aID == bID {
			t.Fatalf("session ids %q and %q", aID, bID)
		}

		r := a.Do(t, "GET", "/api/v1/me/sessions", nil)
		wantStatus(t, r, 200, "list")
		got := map[string]bool{}
		for _, s := range r.Get("sessions").([]any) {
			m := s.(map[string]any)
			got[m["id"].(string)] = m["current"].(bool)
			if m["ip"] != "127.0.0.1" {
				t.Errorf("session ip %v, want 127.0.0.1", m["ip"])
			}
			for _, secret := range []string{"token", "token_hash", "hash"} {
				if _, ok := m[secret]; ok {
					t.Errorf("session lists %q: %v", secret, m)
				}
			}
		}
		if len(got) != 2 || got[aID] != true || got[bID] != false {
			t.Fatalf("sessions %v, want %s current and %s not", got, aID, bID)
		}
		if strings.Contains(string(r.Body), sessionCookie(a)) || strings.Contains(string(r.Body), sessionCookie(b)) {
			t.Fatal("the session list contains a cookie value")
		}

		// Another user cannot end bob's session, nor learn that it exists.
		wantError(t, admin.Do(t, "DELETE", "/api/v1/me/sessions/"+bID, nil), http.StatusNotFound, "not_found", "admin revokes bob's session")
		wantStatus(t, b.Do(t, "GET", "/api/v1/me", nil), 200, "bob's session after the admin's attempt")
		wantError(t, a.Do(t, "DELETE", "/api/v1/me/sessions/no-such-session", nil), http.StatusNotFound, "not_found", "unknown id")

		// Revoking one session ends it at once, and only it.
		wantStatus(t, a.Do(t, "DELETE", "/api/v1/me/sessions/"+bID, nil), http.StatusNoContent, "revoke b")
		wantError(t, b.Do(t, "GET", "/api/v1/me", nil), http.StatusUnauthorized, "unauthenticated", "b after revoke")
		wantStatus(t, a.Do(t, "GET", "/api/v1/me", nil), 200, "a after revoking b")
		wantStatus(t, admin.Do(t, "GET", "/api/v1/me", nil), 200, "admin after revoking b")

		// Revoking all others keeps the current one.
		_, c := login(t, inst, userEmail, userPW, "")
		_, e := login(t, inst, userEmail, userPW, "")
		r = a.Do(t, "DELETE", "/api/v1/me/sessions", nil)
		wantStatus(t, r, 200, "revoke others")
		if r.Get("revoked") != float64(2) {
			t.Fatalf("revoked %v, want 2: %s", r.Get("revoked"), r.Body)
		}
		for name, cl := range map[string]*apptest.Client{"c": c, "e": e} {
			wantError(t, cl.Do(t, "GET", "/api/v1/me", nil), http.StatusUnauthorized, "unauthenticated", name+" after revoke-others")
		}
		wantStatus(t, a.Do(t, "GET", "/api/v1/me", nil), 200, "a after revoke-others")
		wantStatus(t, admin.Do(t, "GET", "/api/v1/me", nil), 200, "admin after bob's revoke-others")
		if n := len(a.Do(t, "GET", "/api/v1/me/sessions", nil).Get("sessions").([]any)); n != 1 {
			t.Fatalf("%d sessions left, want 1", n)
		}
	})
}

// TestSessionExpiry: a session ends after 8 hours unused (idle) and 7 days
// after login however busy it is (absolute).
func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// steps advance the clock and expect an answer to GET /api/v1/me
		// after each one.
		steps []expiryStep
	}{
		{name: "idle", steps: []expiryStep{
			{advance: 7*time.Hour + 59*time.Minute, status: 200},
			{advance: 7*time.Hour + 59*time.Minute, status: 200}, // use slides the idle expiry
			{advance: 8*time.Hour + time.Second, status: 401},
			{advance: 0, status: 401}, // and it stays dead
		}},
		{name: "absolute", steps: append(every(4*time.Hour, 164*time.Hour, 200),
			expiryStep{advance: 3 * time.Hour, status: 200}, // 167 h: an hour to go
			expiryStep{advance: 2 * time.Hour, status: 401}, // 169 h: past 7 days
		)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			eachDialect(t, func(t *testing.T, d store.Dialect) {
				inst, _, _ := startWithUser(t, apptest.Options{Dialect: d})
				_, c := login(t, inst, userEmail, userPW, "")
				var elapsed time.Duration
				for i, s := range tt.steps {
					inst.Clock.Advance(s.advance)
					elapsed += s.advance
					r := c.Do(t, "GET", "/api/v1/me", nil)
					if r.Status != s.status {
						t.Fatalf("step %d (%v after login): status %d, want %d; %s", i, elapsed, r.Status, s.status, r.Body)
					}
				}
				// A new login works: expiry ended the session, not the account.
				if r, _ := login(t, inst, userEmail, userPW, ""); r.Status != 200 {
					t.Fatalf("login after expiry: %d", r.Status)
				}
			})
		})
	}
}

type expiryStep struct {
	advance time.Duration
	status  int
}

// every is requests every d until total has passed.
func every(d, total time.Duration, status int) []expiryStep {
	var out []expiryStep
	for t := d; t <= total; t += d {
		out = append(out, expiryStep{advance: d, status: status})
	}
	return out
}

// TestForgedSessionCookie: cookie values the server did not issue
// authenticate nothing, on reads and writes.
func TestForgedSessionCookie(t *testing.T) {
	t.Parallel()
	inst, admin, _ := startWithUser(t, apptest.Options{})
	random := make([]byte, 32)
	_, _ = rand.Read(random)
	real := sessionCookie(admin)
	tests := []struct{ name, value string }{
		{name: "random 256 bits", value: base64.RawURLEncoding.EncodeToString(random)},
		{name: "real value with one character changed", value: flip(real)},
		{name: "real value truncated", value: real[:len(real)-1]},
		{name: "real value with a suffix", value: real + "A"},
		{name: "very long", value: strings.Repeat("A", 4000)},
		{name: "hash-looking", value: strings.Repeat("0", 64)},
		{name: "api key in the cookie", value: "slk_" + base64.RawURLEncoding.EncodeToString(random)},
	}
	for _, tt := range tests {
		c := clientWithCookie(t, inst, tt.value)
		r := c.Do(t, "GET", "/api/v1/me", nil)
		wantError(t, r, http.StatusUnauthorized, "unauthenticated", tt.name)
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", tt.name)
		}
		before := snap(t, inst)
		c.CSRF = admin.CSRF // even with a real CSRF token
		wantError(t, c.Do(t, "POST", "/api/v1/me/api-keys", map[string]any{"name": "x", "expires_in_days": 1}),
			http.StatusUnauthorized, "unauthenticated", tt.name+" (write)")
		sameState(t, inst, before, tt.name)
	}
}

// TestDisableUser: disabling a user ends their sessions and stops their
// API keys at once; re-enabling lets them log in again; the last active
// admin cannot be disabled.
func TestDisableUser(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, admin, bob := startWithUser(t, apptest.Options{Dialect: d})
		_, b1 := login(t, inst, userEmail, userPW, "")
		_, b2 := login(t, inst, userEmail, userPW, "")
		key, _ := inst.APIKey(t, b1, 30)
		wantStatus(t, key.Do(t, "GET", "/api/v1/me", nil), 200, "key before")

		// Bob cannot disable anyone, himself included.
		wantError(t, b1.Do(t, "PATCH", "/api/v1/users/"+bob, map[string]any{"disabled": true}), 403, "forbidden", "bob disables himself")

		r := admin.Do(t, "PATCH", "/api/v1/users/"+bob, map[string]any{"disabled": true})
		wantStatus(t, r, 200, "disable")
		if r.Get("disabled") != true {
			t.Fatalf("disable answer: %s", r.Body)
		}
		for name, c := range map[string]*apptest.Client{"session 1": b1, "session 2": b2, "api key": key} {
			wantError(t, c.Do(t, "GET", "/api/v1/me", nil), 401, "unauthenticated", name+" after disable")
		}
		if got := snap(t, inst).Sessions; got != 1 { // the admin's
			t.Fatalf("%d sessions after disabling bob, want only the admin's", got)
		}
		r, _ = login(t, inst, userEmail, userPW, "")
		wantError(t, r, 403, "account_disabled", "login while disabled")

		wantStatus(t, admin.Do(t, "PATCH", "/api/v1/users/"+bob, map[string]any{"disabled": false}), 200, "enable")
		r, b3 := login(t, inst, userEmail, userPW, "")
		wantStatus(t, r, 200, "login after enable")
		wantStatus(t, b3.Do(t, "GET", "/api/v1/me", nil), 200, "me after enable")
		wantError(t, b1.Do(t, "GET", "/api/v1/me", nil), 401, "unauthenticated", "old session after enable")

		// The last active admin stays.
		annID := admin.Do(t, "GET", "/api/v1/me", nil).String("user.id")
		before := snap(t, inst)
		wantError(t, admin.Do(t, "PATCH", "/api/v1/users/"+annID, map[string]any{"disabled": true}), 409, "last_admin", "disable the last admin")
		sameState(t, inst, before, "refused last-admin disable")
		wantStatus(t, admin.Do(t, "GET", "/api/v1/me", nil), 200, "admin after refused disable")

		// With a second admin, one may go; then the other is the last.
		cydID := inst.CreateUser(t, admin, otherEmail, otherPW, true)
		cyd := inst.Login(t, otherEmail, otherPW)
		wantStatus(t, cyd.Do(t, "PATCH", "/api/v1/users/"+annID, map[string]any{"disabled": true}), 200, "cyd disables ann")
		wantError(t, admin.Do(t, "GET", "/api/v1/me", nil), 401, "unauthenticated", "ann after being disabled")
		wantError(t, cyd.Do(t, "PATCH", "/api/v1/users/"+cydID, map[string]any{"disabled": true}), 409, "last_admin", "cyd disables herself")

		wantError(t, cyd.Do(t, "PATCH", "/api/v1/users/no-such-user", map[string]any{"disabled": true}), 404, "not_found", "unknown user")
		wantError(t, cyd.Do(t, "PATCH", "/api/v1/users/"+bob, map[string]any{}), 422, "invalid_field", "nothing to change")
	})
}
