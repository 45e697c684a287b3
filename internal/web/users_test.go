package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/store"
)

// TestUsersAccess is the access table of the instance-admin routes: who
// may call each, and what the others get. A refused call changes nothing.
func TestUsersAccess(t *testing.T) {
	t.Parallel()
	inst, admin, bob := startWithUser(t, apptest.Options{})
	_, standard := login(t, inst, userEmail, userPW, "")
	standardKey, _ := inst.APIKey(t, standard, 0)
	adminKey, _ := inst.APIKey(t, admin, 0)
	anon := inst.NewClient()
	who := map[string]*apptest.Client{"admin": admin, "admin key": adminKey, "standard": standard, "standard key": standardKey, "anonymous": anon}

	newUser := func(email string) map[string]any {
		return map[string]any{"email": email, "password": otherPW, "name": "New"}
	}
	tests := []struct {
		name   string
		method string
		path   string
		body   map[string]any
		want   map[string]int // by caller
	}{
		{name: "list users", method: "GET", path: "/api/v1/users",
			want: map[string]int{"admin": 200, "admin key": 200, "standard": 403, "standard key": 403, "anonymous": 401}},
		{name: "create user", method: "POST", path: "/api/v1/users", body: newUser("new@example.com"),
			want: map[string]int{"standard": 403, "standard key": 403, "anonymous": 401}},
		{name: "disable user", method: "PATCH", path: "/api/v1/users/" + bob, body: map[string]any{"disabled": true},
			want: map[string]int{"standard": 403, "standard key": 403, "anonymous": 401}},
		{name: "read audit log", method: "GET", path: "/api/v1/audit",
			want: map[string]int{"admin": 200, "admin key": 200, "standard": 403, "standard key": 403, "anonymous": 401}},
		{name: "verify audit log", method: "GET", path: "/api/v1/audit/verify",
			want: map[string]int{"admin": 200, "admin key": 200, "standard": 403, "standard key": 403, "anonymous": 401}},
		{name: "own profile", method: "GET", path: "/api/v1/me",
			want: map[string]int{"admin": 200, "admin key": 200, "standard": 200, "standard key": 200, "anonymous": 401}},
		{name: "own sessions", method: "GET", path: "/api/v1/me/sessions",
			want: map[string]int{"admin": 200, "standard": 200, "anonymous": 401}},
		{name: "own api keys", method: "GET", path: "/api/v1/me/api-keys",
			want: map[string]int{"admin": 200, "standard": 200, "anonymous": 401}},
		{name: "create api key", method: "POST", path: "/api/v1/me/api-keys", body: map[string]any{"name": "x", "expires_in_days": 1},
			want: map[string]int{"anonymous": 401}},
		{name: "change password", method: "POST", path: "/api/v1/me/password", body: map[string]any{"current_password": userPW, "new_password": otherPW},
			want: map[string]int{"anonymous": 401}},
	}
	codes := map[int]string{401: "unauthenticated", 403: "forbidden"}
	for _, tt := range tests {
		for name, status := range tt.want {
			what := name + ": " + tt.name
			before := snap(t, inst)
			r := who[name].Do(t, tt.method, tt.path, tt.body)
			if status >= 400 {
				wantError(t, r, status, codes[status], what)
				sameState(t, inst, before, what)
				if status == 401 && r.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s: 401 without WWW-Authenticate", what)
				}
				continue
			}
			wantStatus(t, r, status, what)
		}
	}
}

// TestCreateUser: an admin creates accounts that can log in; emails are
// unique regardless of case; bad input is refused and creates nothing.
func TestCreateUser(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, admin := startAdmin(t, apptest.Options{Dialect: d})
		r := admin.Do(t, "POST", "/api/v1/users", map[string]any{"email": "Dee@Example.com", "password": otherPW, "name": "Dee", "admin": true})
		wantStatus(t, r, http.StatusCreated, "create")
		if r.String("id") == "" || r.String("email") != "dee@example.com" || r.Get("admin") != true || r.Get("disabled") != false {
			t.Fatalf("create answer: %s", r.Body)
		}
		for _, secret := range []string{otherPW, "password_hash", "$argon2id$", "totp_secret"} {
			if strings.Contains(string(r.Body), secret) {
				t.Fatalf("create answer contains %q: %s", secret, r.Body)
			}
		}
		if r, _ := login(t, inst, "dee@example.com", otherPW, ""); r.Status != 200 || r.Get("user.admin") != true {
			t.Fatalf("the new user cannot log in: %d %s", r.Status, r.Body)
		}
		list := admin.Do(t, "GET", "/api/v1/users", nil)
		if n := len(list.Get("users").([]any)); n != 2 || strings.Contains(string(list.Body), "$argon2id$") {
			t.Fatalf("user list: %s", list.Body)
		}

		refused := []struct {
			name   string
			body   map[string]any
			status int
			code   string
			field  string
		}{
			{name: "duplicate email", body: map[string]any{"email": "dee@example.com", "password": userPW, "name": "x"}, status: 409, code: "conflict"},
			{name: "duplicate email in other case", body: map[string]any{"email": "DEE@EXAMPLE.COM", "password": userPW, "name": "x"}, status: 409, code: "conflict"},
			{name: "setup admin's email", body: map[string]any{"email": adminEmail, "password": userPW, "name": "x"}, status: 409, code: "conflict"},
			{name: "invalid email", body: map[string]any{"email": "not an email", "password": userPW, "name": "x"}, status: 422, code: "invalid_field", field: "email"},
			{name: "weak password", body: map[string]any{"email": "eve@example.com", "password": "password1234", "name": "x"}, status: 422, code: "invalid_field", field: "password"},
			{name: "short password", body: map[string]any{"email": "eve@example.com", "password": "Abcdefgh-1!", "name": "x"}, status: 422, code: "invalid_field", field: "password"},
			{name: "control character in name", body: map[string]any{"email": "eve@example.com", "password": userPW, "name": "a\x07b"}, status: 422, code: "invalid_field", field: "name"},
		}
		for _, tt := range refused {
			before := snap(t, inst)
			r := admin.Do(t, "POST", "/api/v1/users", tt.body)
			wantError(t, r, tt.status, tt.code, tt.name)
			if tt.field != "" && errorField(r) != tt.field {
				t.Fatalf("%s: error names %q, want %q", tt.name, errorField(r), tt.field)
			}
			sameState(t, inst, before, tt.name)
		}
	})
}
