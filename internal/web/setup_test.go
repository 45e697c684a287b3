package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

// TestSetup walks first-run setup: every refused attempt leaves the
// instance without users (so a later correct setup still works), the
// printed token works once, and nothing works after it.
func TestSetup(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst := apptest.Start(t, apptest.Options{Dialect: d})
		token := inst.SetupToken(t)
		body := func(change map[string]any) map[string]any {
			b := map[string]any{"token": token, "email": adminEmail, "password": adminPW, "name": "Ann"}
			for k, v := range change {
				if v == nil {
					delete(b, k)
				} else {
					b[k] = v
				}
			}
			return b
		}
		refused := []struct {
			name      string
			body      map[string]any
			status    int
			code      string
			wantField string
		}{
			{name: "missing token", body: body(map[string]any{"token": nil}), status: 403, code: "invalid_setup_token"},
			{name: "empty token", body: body(map[string]any{"token": ""}), status: 403, code: "invalid_setup_token"},
			{name: "wrong token", body: body(map[string]any{"token": strings.Repeat("A", len(token))}), status: 403, code: "invalid_setup_token"},
			{name: "token with a changed letter", body: body(map[string]any{"token": flip(token)}), status: 403, code: "invalid_setup_token"},
			{name: "password of 11 characters", body: body(map[string]any{"password": "Abcdefgh-1!"}), status: 422, code: "invalid_field", wantField: "password"},
			{name: "common password", body: body(map[string]any{"password": "password1234"}), status: 422, code: "invalid_field", wantField: "password"},
			{name: "password containing the email name", body: body(map[string]any{"email": "kimberly@example.com", "password": "Kimberly-Ocean-88"}), status: 422, code: "invalid_field", wantField: "password"},
			{name: "missing password", body: body(map[string]any{"password": nil}), status: 422, code: "invalid_field", wantField: "password"},
			{name: "invalid email", body: body(map[string]any{"email": "ann-at-example.com"}), status: 422, code: "invalid_field", wantField: "email"},
			{name: "email with display name", body: body(map[string]any{"email": "Ann <ann@example.com>"}), status: 422, code: "invalid_field", wantField: "email"},
			{name: "missing email", body: body(map[string]any{"email": nil}), status: 422, code: "invalid_field", wantField: "email"},
		}
		for _, tc := range refused {
			before := snap(t, inst)
			c := inst.NewClient()
			r := c.Do(t, "POST", "/api/v1/setup", tc.body)
			wantError(t, r, tc.status, tc.code, tc.name)
			if tc.wantField != "" && errorField(r) != tc.wantField {
				t.Fatalf("%s: error names field %q, want %q; body %s", tc.name, errorField(r), tc.wantField, r.Body)
			}
			if ck := setCookie(r, httpx.SessionCookieName(false)); ck != nil {
				t.Fatalf("%s: refused setup set a session cookie", tc.name)
			}
			sameState(t, inst, before, tc.name)
			if before.Users != 0 {
				t.Fatalf("%s: %d users before setup", tc.name, before.Users)
			}
		}

		// The printed token works, and logs the new administrator in.
		c := inst.NewClient()
		r := c.Do(t, "POST", "/api/v1/setup", body(nil))
		wantStatus(t, r, http.StatusCreated, "setup")
		if r.Get("user.admin") != true || r.String("user.email") != adminEmail || r.String("csrf_token") == "" {
			t.Fatalf("setup answer: %s", r.Body)
		}
		if strings.Contains(string(r.Body), "password") {
			t.Fatalf("setup answer mentions the password: %s", r.Body)
		}
		if me := c.Do(t, "GET", "/api/v1/me", nil); me.Status != 200 || me.String("user.email") != adminEmail {
			t.Fatalf("me after setup: %d %s", me.Status, me.Body)
		}

		// Once done, setup is closed: to the same token, another token and
		// another person alike.
		again := []struct {
			name string
			body map[string]any
		}{
			{name: "same token again", body: body(nil)},
			{name: "same token, another email", body: body(map[string]any{"email": "eve@example.com", "password": "Eve-Takes-Over-77"})},
			{name: "no token", body: body(map[string]any{"token": nil, "email": "eve@example.com"})},
		}
		for _, tc := range again {
			before := snap(t, inst)
			wantError(t, inst.NewClient().Do(t, "POST", "/api/v1/setup", tc.body), http.StatusConflict, "setup_complete", tc.name)
			sameState(t, inst, before, tc.name)
		}
		if n := snap(t, inst).Users; n != 1 {
			t.Fatalf("%d users after setup, want 1", n)
		}
	})
}

// flip changes the last character of s.
func flip(s string) string {
	last := s[len(s)-1]
	if last == 'A' {
		return s[:len(s)-1] + "B"
	}
	return s[:len(s)-1] + "A"
}
