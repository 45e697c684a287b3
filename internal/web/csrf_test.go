package web_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/store"
)

// TestCSRF: an unsafe request riding on the session cookie needs the
// session's CSRF token and an Origin (or Referer) of this site; an API key
// needs neither. Each refused request changes nothing.
func TestCSRF(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, admin, _ := startWithUser(t, apptest.Options{Dialect: d})
		_, bob := login(t, inst, userEmail, userPW, "")
		key, _ := inst.APIKey(t, admin, 0)
		const evil = "https://evil.example"
		tests := []struct {
			name   string
			client *apptest.Client
			header map[string]string // "" deletes the header the client would send
			status int
			code   string
		}{
			{name: "no token", client: withoutCSRF(bob), status: 403, code: "csrf_token_invalid"},
			{name: "wrong token", client: bob, header: map[string]string{"X-CSRF-Token": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, status: 403, code: "csrf_token_invalid"},
			{name: "another session's token", client: bob, header: map[string]string{"X-CSRF-Token": admin.CSRF}, status: 403, code: "csrf_token_invalid"},
			{name: "token as a query parameter", client: withoutCSRF(bob), header: map[string]string{"?": "csrf_token=" + bob.CSRF}, status: 403, code: "csrf_token_invalid"},
			{name: "token, foreign Origin", client: bob, header: map[string]string{"Origin": evil}, status: 403, code: "forbidden"},
			{name: "token, Origin null", client: bob, header: map[string]string{"Origin": "null"}, status: 403, code: "forbidden"},
			{name: "token, lookalike Origin", client: bob, header: map[string]string{"Origin": inst.URL + ".evil.example"}, status: 403, code: "forbidden"},
			{name: "token, no Origin, no Referer", client: bob, header: map[string]string{"Origin": ""}, status: 403, code: "forbidden"},
			{name: "token, no Origin, foreign Referer", client: bob, header: map[string]string{"Origin": "", "Referer": evil + "/page"}, status: 403, code: "forbidden"},
			{name: "token, no Origin, own Referer", client: bob, header: map[string]string{"Origin": "", "Referer": inst.URL + "/somewhere"}, status: 201},
			{name: "token, own Origin", client: bob, status: 201},
			{name: "api key, no token, no Origin", client: key, header: map[string]string{"Origin": ""}, status: 201},
		}
		for _, tt := range tests {
			before := snap(t, inst)
			path := "/api/v1/me/api-keys"
			if q, ok := tt.header["?"]; ok {
				path += "?" + q
			}
			req, err := http.NewRequest("POST", tt.client.Base+path, bytes.NewReader([]byte(`{"name":"ci","expires_in_days":1}`)))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			c := *tt.client
			for k, v := range tt.header {
				switch {
				case k == "?":
				case k == "Origin" && v == "":
					c.NoOrigin = true
				default:
					req.Header.Set(k, v)
				}
			}
			r := c.Send(t, req)
			if tt.status >= 400 {
				wantError(t, r, tt.status, tt.code, tt.name)
				sameState(t, inst, before, tt.name)
				continue
			}
			wantStatus(t, r, tt.status, tt.name)
			if after := snap(t, inst); after.APIKeys != before.APIKeys+1 {
				t.Fatalf("%s: %d → %d api keys", tt.name, before.APIKeys, after.APIKeys)
			}
		}

		// Every unsafe route behind a session checks the token, not only
		// the one above.
		bobID := bob.Do(t, "GET", "/api/v1/me", nil).String("user.id")
		noToken := withoutCSRF(admin)
		unsafe := []struct{ method, path string }{
			{"POST", "/api/v1/auth/logout"},
			{"POST", "/api/v1/me/password"},
			{"DELETE", "/api/v1/me/sessions"},
			{"DELETE", "/api/v1/me/sessions/x"},
			{"DELETE", "/api/v1/me/api-keys/x"},
			{"POST", "/api/v1/me/totp"},
			{"POST", "/api/v1/me/totp/confirm"},
			{"POST", "/api/v1/me/totp/disable"},
			{"POST", "/api/v1/users"},
			{"PATCH", "/api/v1/users/" + bobID},
		}
		for _, u := range unsafe {
			before := snap(t, inst)
			r := noToken.Do(t, u.method, u.path, map[string]any{"disabled": true})
			wantError(t, r, 403, "csrf_token_invalid", u.method+" "+u.path+" without a token")
			sameState(t, inst, before, u.method+" "+u.path)
		}
		wantStatus(t, admin.Do(t, "GET", "/api/v1/me", nil), 200, "admin still logged in")
	})
}
