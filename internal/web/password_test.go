package web_test

import (
	"net/http"
	"testing"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/store"
)

// TestChangePassword: the current password is needed, the new one must
// pass the policy, and a change ends every other session of the user but
// keeps the one that made it.
func TestChangePassword(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, admin, _ := startWithUser(t, apptest.Options{Dialect: d})
		_, a := login(t, inst, userEmail, userPW, "")
		_, b := login(t, inst, userEmail, userPW, "")
		key, _ := inst.APIKey(t, a, 0)
		const newPW = "Granite-Meadow-Piano-77"

		refused := []struct {
			name          string
			current, next string
			status        int
			code, field   string
		}{
			{name: "wrong current", current: "Wrong-Guess-Number-1", next: newPW, status: 403, code: "wrong_password"},
			{name: "empty current", current: "", next: newPW, status: 403, code: "wrong_password"},
			{name: "new too short", current: userPW, next: "Short-Pw-1", status: 422, code: "invalid_field", field: "new_password"},
			{name: "new is common", current: userPW, next: "password1234", status: 422, code: "invalid_field", field: "new_password"},
			{name: "new equals current", current: userPW, next: userPW, status: 422, code: "invalid_field", field: "new_password"},
		}
		for _, tt := range refused {
			before := snap(t, inst)
			r := a.Do(t, "POST", "/api/v1/me/password", map[string]any{"current_password": tt.current, "new_password": tt.next})
			wantError(t, r, tt.status, tt.code, tt.name)
			if tt.field != "" && errorField(r) != tt.field {
				t.Fatalf("%s: error names %q, want %q", tt.name, errorField(r), tt.field)
			}
			after := snap(t, inst)
			if after.UserRows != before.UserRows || after.Sessions != before.Sessions {
				t.Fatalf("%s changed the account or its sessions", tt.name)
			}
			wantStatus(t, b.Do(t, "GET", "/api/v1/me", nil), 200, tt.name+": other session")
		}

		before := snap(t, inst)
		wantStatus(t, a.Do(t, "POST", "/api/v1/me/password", map[string]any{"current_password": userPW, "new_password": newPW}),
			http.StatusNoContent, "change")
		wantError(t, b.Do(t, "GET", "/api/v1/me", nil), 401, "unauthenticated", "other session after the change")
		wantStatus(t, a.Do(t, "GET", "/api/v1/me", nil), 200, "the session that changed it")
		wantStatus(t, admin.Do(t, "GET", "/api/v1/me", nil), 200, "another user's session")
		if got := snap(t, inst).Sessions; got != before.Sessions-1 {
			t.Fatalf("sessions %d → %d, want exactly bob's other one ended", before.Sessions, got)
		}
		// API keys are separate credentials, revoked on their own.
		wantStatus(t, key.Do(t, "GET", "/api/v1/me", nil), 200, "api key after the change")

		r, _ := login(t, inst, userEmail, userPW, "")
		wantError(t, r, 401, "invalid_credentials", "old password")
		r, _ = login(t, inst, userEmail, newPW, "")
		wantStatus(t, r, 200, "new password")
	})
}
