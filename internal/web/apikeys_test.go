package web_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/store"
)

// TestAPIKeys: a key is shown once, listed without its secret, works as a
// Bearer token, records its last use, and stops at once when revoked.
func TestAPIKeys(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, admin, _ := startWithUser(t, apptest.Options{Dialect: d})
		_, bob := login(t, inst, userEmail, userPW, "")

		r := bob.Do(t, "POST", "/api/v1/me/api-keys", map[string]any{"name": "ci", "expires_in_days": 30})
		wantStatus(t, r, http.StatusCreated, "create")
		token, id := r.String("token"), r.String("id")
		if !strings.HasPrefix(token, "slk_") || len(token) < 40 || id == "" || r.String("name") != "ci" {
			t.Fatalf("create answer: %s", r.Body)
		}
		exp, err := time.Parse(time.RFC3339Nano, r.String("expires_at"))
		if err != nil || exp.Sub(inst.Clock.Now()).Round(time.Hour) != 30*24*time.Hour {
			t.Fatalf("expires_at %q, want 30 days from now (%v)", r.String("expires_at"), inst.Clock.Now())
		}
		sum := sha256.Sum256([]byte(token))
		secrets := []string{token, token[4:], hex.EncodeToString(sum[:])}

		listKeys := func() map[string]any {
			t.Helper()
			r := bob.Do(t, "GET", "/api/v1/me/api-keys", nil)
			wantStatus(t, r, 200, "list")
			for _, s := range secrets {
				if strings.Contains(string(r.Body), s) {
					t.Fatalf("the key list contains the token or its hash: %s", r.Body)
				}
			}
			keys := r.Get("api_keys").([]any)
			if len(keys) != 1 {
				t.Fatalf("%d keys listed, want 1: %s", len(keys), r.Body)
			}
			k := keys[0].(map[string]any)
			if k["id"] != id || k["name"] != "ci" {
				t.Fatalf("listed key %v", k)
			}
			if _, ok := k["token"]; ok {
				t.Fatalf("listed key has a token field: %v", k)
			}
			return k
		}
		if k := listKeys(); k["last_used_at"] != nil {
			t.Fatalf("unused key has last_used_at %v", k["last_used_at"])
		}

		key := inst.NewClient()
		key.Bearer = token
		inst.Clock.Advance(time.Hour)
		r = key.Do(t, "GET", "/api/v1/me", nil)
		wantStatus(t, r, 200, "me with the key")
		if r.String("user.email") != userEmail || r.String("auth") != "api_key" || r.String("api_key_id") != id {
			t.Fatalf("me with the key: %s", r.Body)
		}
		used, err := time.Parse(time.RFC3339Nano, listKeys()["last_used_at"].(string))
		if err != nil || !used.Equal(inst.Clock.Now().Truncate(time.Microsecond)) {
			t.Fatalf("last_used_at %v (%v), want the time of use %v", used, err, inst.Clock.Now())
		}

		// Another user can neither list nor revoke bob's key.
		if n := len(admin.Do(t, "GET", "/api/v1/me/api-keys", nil).Get("api_keys").([]any)); n != 0 {
			t.Fatalf("the admin sees %d keys of bob's", n)
		}
		wantError(t, admin.Do(t, "DELETE", "/api/v1/me/api-keys/"+id, nil), 404, "not_found", "admin revokes bob's key")
		wantStatus(t, key.Do(t, "GET", "/api/v1/me", nil), 200, "key after the admin's attempt")

		wantStatus(t, bob.Do(t, "DELETE", "/api/v1/me/api-keys/"+id, nil), http.StatusNoContent, "revoke")
		r = key.Do(t, "GET", "/api/v1/me", nil)
		wantError(t, r, 401, "unauthenticated", "revoked key")
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Fatal("401 without WWW-Authenticate")
		}
		wantError(t, bob.Do(t, "DELETE", "/api/v1/me/api-keys/"+id, nil), 404, "not_found", "revoke twice")
		if n := len(bob.Do(t, "GET", "/api/v1/me/api-keys", nil).Get("api_keys").([]any)); n != 0 {
			t.Fatalf("%d keys listed after revoke", n)
		}
	})
}

// TestAPIKeyExpiry: a key stops working when its days are up; 0 days
// means never. Only the key is used: sessions expire on their own.
func TestAPIKeyExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		days  int
		steps []expiryStep
	}{
		{name: "one day", days: 1, steps: []expiryStep{
			{advance: 23 * time.Hour, status: 200},
			{advance: 2 * time.Hour, status: 401},
		}},
		{name: "thirty days", days: 30, steps: []expiryStep{
			{advance: 29 * 24 * time.Hour, status: 200},
			{advance: 25 * time.Hour, status: 401},
		}},
		{name: "never", days: 0, steps: []expiryStep{
			{advance: 400 * 24 * time.Hour, status: 200},
			{advance: 10 * 365 * 24 * time.Hour, status: 200},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inst, admin := startAdmin(t, apptest.Options{})
			key, _ := inst.APIKey(t, admin, tt.days)
			for i, s := range tt.steps {
				inst.Clock.Advance(s.advance)
				r := key.Do(t, "GET", "/api/v1/me", nil)
				if r.Status != s.status {
					t.Fatalf("step %d: status %d, want %d; %s", i, r.Status, s.status, r.Body)
				}
			}
		})
	}
}

// TestBadBearer: anything but a live key in Authorization is a 401 with
// WWW-Authenticate, also on a public route (a JSON 401 there too, not the
// console's redirect to the login page), and also next to a good cookie.
func TestBadBearer(t *testing.T) {
	t.Parallel()
	inst, admin := startAdmin(t, apptest.Options{})
	key, _ := inst.APIKey(t, admin, 0)
	random := make([]byte, 32)
	_, _ = rand.Read(random)
	tests := []struct{ name, header string }{
		{name: "random key of the right shape", header: "Bearer slk_" + base64.RawURLEncoding.EncodeToString(random)},
		{name: "real key with one character changed", header: "Bearer " + flip(key.Bearer)},
		{name: "real key truncated", header: "Bearer " + key.Bearer[:len(key.Bearer)-1]},
		{name: "real key without prefix", header: "Bearer " + strings.TrimPrefix(key.Bearer, "slk_")},
		{name: "garbage", header: "Bearer not-a-key"},
		{name: "empty bearer", header: "Bearer "},
		{name: "scheme only", header: "Bearer"},
		{name: "basic scheme", header: "Basic " + base64.StdEncoding.EncodeToString([]byte("ann@example.com:"+adminPW))},
		{name: "session cookie value as bearer", header: "Bearer " + sessionCookie(admin)},
		{name: "very long", header: "Bearer slk_" + strings.Repeat("A", 5000)},
	}
	for _, tt := range tests {
		for _, path := range []string{"/api/v1/me", "/healthz"} {
			req, err := http.NewRequest("GET", inst.URL+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", tt.header)
			r := inst.NewClient().Send(t, req)
			wantError(t, r, http.StatusUnauthorized, "unauthenticated", tt.name+" on "+path)
			if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s on %s: WWW-Authenticate %q", tt.name, path, r.Header.Get("WWW-Authenticate"))
			}
		}
		// A bad key is not rescued by a good cookie next to it.
		req, _ := http.NewRequest("GET", inst.URL+"/api/v1/me", nil)
		req.Header.Set("Authorization", tt.header)
		wantError(t, admin.Send(t, req), http.StatusUnauthorized, "unauthenticated", tt.name+" with a good cookie")
	}
}

// TestAPIKeyValidation: a key request with a missing or impossible expiry
// or name is refused and creates nothing.
func TestAPIKeyValidation(t *testing.T) {
	t.Parallel()
	inst, admin := startAdmin(t, apptest.Options{})
	tests := []struct {
		name   string
		body   map[string]any
		status int
		code   string
		field  string
	}{
		{name: "missing expires_in_days", body: map[string]any{"name": "ci"}, status: 422, code: "invalid_field", field: "expires_in_days"},
		{name: "null expires_in_days", body: map[string]any{"name": "ci", "expires_in_days": nil}, status: 422, code: "invalid_field", field: "expires_in_days"},
		{name: "negative", body: map[string]any{"name": "ci", "expires_in_days": -1}, status: 422, code: "invalid_field", field: "expires_in_days"},
		{name: "beyond ten years", body: map[string]any{"name": "ci", "expires_in_days": 3651}, status: 422, code: "invalid_field", field: "expires_in_days"},
		{name: "fraction", body: map[string]any{"name": "ci", "expires_in_days": 1.5}, status: 400, code: "invalid_field", field: "expires_in_days"},
		{name: "as a string", body: map[string]any{"name": "ci", "expires_in_days": "30"}, status: 400, code: "invalid_field", field: "expires_in_days"},
		{name: "missing name", body: map[string]any{"expires_in_days": 30}, status: 422, code: "invalid_field", field: "name"},
		{name: "blank name", body: map[string]any{"name": "   ", "expires_in_days": 30}, status: 422, code: "invalid_field", field: "name"},
		{name: "long name", body: map[string]any{"name": strings.Repeat("n", 101), "expires_in_days": 30}, status: 422, code: "invalid_field", field: "name"},
	}
	for _, tt := range tests {
		before := snap(t, inst)
		r := admin.Do(t, "POST", "/api/v1/me/api-keys", tt.body)
		wantError(t, r, tt.status, tt.code, tt.name)
		if errorField(r) != tt.field {
			t.Errorf("%s: error names field %q, want %q", tt.name, errorField(r), tt.field)
		}
		sameState(t, inst, before, tt.name)
	}
}
