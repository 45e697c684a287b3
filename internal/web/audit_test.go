package web_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/store"
)

// TestAuditJourney runs the account events of the issue and reads them
// back through the API: each with its actor and IP, the chain intact,
// nothing secret recorded, and only admins may look. Tampering with a
// stored event is then reported.
func TestAuditJourney(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, admin := startAdmin(t, apptest.Options{Dialect: d})
		secrets := []string{adminPW, userPW, sessionCookie(admin), admin.CSRF}
		bobID := inst.CreateUser(t, admin, userEmail, userPW, false)

		_, bob := login(t, inst, userEmail, userPW, "")
		secrets = append(secrets, sessionCookie(bob), bob.CSRF)
		r, _ := login(t, inst, userEmail, "Wrong-Guess-Typed-Here-1", "")
		wantStatus(t, r, 401, "wrong password")
		secrets = append(secrets, "Wrong-Guess-Typed-Here-1")
		const typedEmail, typedPassword = "typo-secret-7c1e@example.org", "Password-Typed-In-Email-Field-3"
		for _, email := range []string{typedEmail, typedPassword} {
			r, _ := login(t, inst, email, "Wrong-Guess-Typed-Here-2", "")
			wantStatus(t, r, 401, "unknown email")
		}
		secrets = append(secrets, typedEmail, "typo-secret-7c1e", typedPassword, "Wrong-Guess-Typed-Here-2")

		const newPW = "Granite-Meadow-Piano-77"
		secrets = append(secrets, newPW)
		wantStatus(t, bob.Do(t, "POST", "/api/v1/me/password", map[string]any{"current_password": userPW, "new_password": newPW}), 204, "password change")
		key, keyID := inst.APIKey(t, bob, 7)
		secrets = append(secrets, key.Bearer)
		wantStatus(t, bob.Do(t, "DELETE", "/api/v1/me/api-keys/"+keyID, nil), 204, "revoke key")
		r = bob.Do(t, "POST", "/api/v1/me/totp", map[string]any{"password": newPW})
		secret := r.String("secret")
		code := totpCode(t, secret, inst.Clock.Now())
		r = bob.Do(t, "POST", "/api/v1/me/totp/confirm", map[string]any{"code": code})
		wantStatus(t, r, 200, "totp on")
		secrets = append(secrets, secret, code)
		for _, c := range r.Get("recovery_codes").([]any) {
			secrets = append(secrets, c.(string))
		}
		wantStatus(t, bob.Do(t, "POST", "/api/v1/me/totp/disable", map[string]any{"password": newPW}), 204, "totp off")
		wantStatus(t, admin.Do(t, "PATCH", "/api/v1/users/"+bobID, map[string]any{"disabled": true}), 200, "disable bob")

		r = admin.Do(t, "GET", "/api/v1/audit", nil)
		wantStatus(t, r, 200, "audit list")
		events := r.Get("events").([]any)
		want := []struct {
			action, outcome, actor, target string
		}{
			{"instance.setup", "success", adminEmail, ""},
			{"user.create", "success", adminEmail, "user:" + bobID},
			{"auth.login", "success", userEmail, "user:" + bobID},
			{"auth.login", "failure", userEmail, "user:" + bobID},
			{"auth.login", "failure", "", ""}, // the unknown email: no actor
			{"user.password_change", "success", userEmail, "user:" + bobID},
			{"api_key.create", "success", userEmail, "api_key:" + keyID},
			{"api_key.revoke", "success", userEmail, "api_key:" + keyID},
			{"totp.enable", "success", userEmail, "user:" + bobID},
			{"totp.disable", "success", userEmail, "user:" + bobID},
			{"user.disable", "success", adminEmail, "user:" + bobID},
		}
		for _, w := range want {
			found := false
			for _, e := range events {
				m := e.(map[string]any)
				if m["action"] != w.action || m["outcome"] != w.outcome || str(m["actor_email"]) != w.actor {
					continue
				}
				if w.target != "" && m["target"] != w.target {
					continue
				}
				if m["ip"] != "127.0.0.1" {
					t.Errorf("%s %s by %q: ip %v", w.action, w.outcome, w.actor, m["ip"])
				}
				if w.actor != "" && str(m["actor_id"]) == "" {
					t.Errorf("%s %s by %q: no actor_id", w.action, w.outcome, w.actor)
				}
				found = true
				break
			}
			if !found {
				t.Errorf("no %s %s event by %q on %q in\n%s", w.action, w.outcome, w.actor, w.target, r.Body)
			}
		}

		// Nothing secret, nor what a person typed into the email field,
		// is in the answer or anywhere in the stored events.
		stored := dumpAudit(t, inst)
		for _, s := range secrets {
			if s == "" {
				t.Fatal("an empty secret in the list")
			}
			if strings.Contains(string(r.Body), s) || strings.Contains(stored, s) {
				t.Errorf("the audit log holds %q", s)
			}
		}

		r = admin.Do(t, "GET", "/api/v1/audit/verify", nil)
		wantStatus(t, r, 200, "verify")
		if r.Get("intact") != true || r.Get("events").(float64) < float64(len(want)) {
			t.Fatalf("verify: %s", r.Body)
		}

		// Filters narrow the list.
		r = admin.Do(t, "GET", "/api/v1/audit?action=auth.login&limit=2", nil)
		wantStatus(t, r, 200, "filtered list")
		if evs := r.Get("events").([]any); len(evs) != 2 || evs[0].(map[string]any)["action"] != "auth.login" || r.String("next") == "" {
			t.Fatalf("filtered list: %s", r.Body)
		}
		wantError(t, admin.Do(t, "GET", "/api/v1/audit?limit=0", nil), 400, "invalid_query", "limit 0")

		// Only instance admins read or verify the log.
		inst.CreateUser(t, admin, otherEmail, otherPW, false)
		cyd := inst.Login(t, otherEmail, otherPW)
		for _, path := range []string{"/api/v1/audit", "/api/v1/audit/verify"} {
			wantError(t, cyd.Do(t, "GET", path, nil), 403, "forbidden", "standard user: "+path)
			wantError(t, inst.NewClient().Do(t, "GET", path, nil), 401, "unauthenticated", "anonymous: "+path)
		}

		// A changed event breaks the chain, and verify says where.
		db := inst.App.Store.WriteDB()
		drop := map[store.Dialect]string{store.SQLite: `DROP TRIGGER audit_events_no_update`,
			store.Postgres: `DROP TRIGGER audit_events_no_update ON audit_events`}[d]
		if _, err := db.Exec(drop); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`UPDATE audit_events SET outcome = 'success' WHERE action = 'auth.login' AND outcome = 'failure'`); err != nil {
			t.Fatal(err)
		}
		r = admin.Do(t, "GET", "/api/v1/audit/verify", nil)
		wantStatus(t, r, 200, "verify after tampering")
		if r.Get("intact") != false || r.Get("broken_at") == nil {
			t.Fatalf("verify after tampering: %s", r.Body)
		}
	})
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// dumpAudit is every stored audit event as text.
func dumpAudit(t *testing.T, inst *apptest.Instance) string {
	t.Helper()
	rows, err := inst.App.Store.WriteDB().QueryContext(context.Background(),
		`SELECT id, actor_id, actor_email, ip, project_id, action, target, outcome, detail, prev_hash, hash FROM audit_events`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		cols := make([]string, 11)
		ptrs := make([]any, len(cols))
		for i := range cols {
			ptrs[i] = &cols[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		b.WriteString(strings.Join(cols, "|") + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if b.Len() == 0 {
		t.Fatal("no audit events stored")
	}
	return b.String()
}
