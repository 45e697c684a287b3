package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/secrets"
	"github.com/sluice-dev/sluice/internal/store"
)

// totpRow reads a user's stored TOTP columns straight from the database.
func totpRow(t *testing.T, inst *apptest.Instance, id string) (active, pending string, term int) {
	t.Helper()
	err := inst.App.Store.WriteDB().QueryRowContext(context.Background(),
		`SELECT totp_secret, totp_pending_secret, totp_term FROM users WHERE id = $1`, id).Scan(&active, &pending, &term)
	if err != nil {
		t.Fatal(err)
	}
	return active, pending, term
}

// TestTOTPSecretsAtRestAndKeyRotation: TOTP secrets are stored sealed and
// bound to their user and column; a secret stored in clear before the
// keyring existed still works and is sealed by the next rotation; an
// instance administrator rotates the keys through the API, the job
// re-encrypts everything, and two-factor login goes on working.
func TestTOTPSecretsAtRestAndKeyRotation(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, admin, bobID := startWithUser(t, apptest.Options{Dialect: d})
		ctx := context.Background()
		_, bob := login(t, inst, userEmail, userPW, "")

		// Enrolment: the pending secret is sealed for its column.
		r := bob.Do(t, "POST", "/api/v1/me/totp", map[string]any{"password": userPW})
		wantStatus(t, r, 200, "enrol")
		bobSecret := r.String("secret")
		active, pending, term := totpRow(t, inst, bobID)
		if active != "" || !secrets.IsSealed(pending) || strings.Contains(pending, bobSecret) || term != 1 {
			t.Fatalf("pending secret stored as %q (term %d)", pending, term)
		}
		wantStatus(t, bob.Do(t, "POST", "/api/v1/me/totp/confirm", map[string]any{"code": totpCode(t, bobSecret, inst.Clock.Now())}), 200, "confirm")
		active, pending, term = totpRow(t, inst, bobID)
		if !secrets.IsSealed(active) || pending != "" || term != 1 {
			t.Fatalf("active secret stored as %q, pending %q, term %d", active, pending, term)
		}

		// Cyd's secret was stored in clear by an older Sluice.
		cydID := inst.CreateUser(t, admin, otherEmail, otherPW, false)
		const cydSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
		if _, err := inst.App.Store.WriteDB().ExecContext(ctx, `UPDATE users SET totp_secret = $1, totp_enabled = $2, totp_term = 0 WHERE id = $3`, cydSecret, true, cydID); err != nil {
			t.Fatal(err)
		}
		inst.Clock.Advance(30 * time.Second)
		r, _ = login(t, inst, otherEmail, otherPW, totpCode(t, cydSecret, inst.Clock.Now()))
		wantStatus(t, r, 200, "login with a TOTP secret stored in clear before the keyring")

		st := admin.Do(t, "GET", "/api/v1/keys", nil)
		wantStatus(t, st, 200, "keys status")
		if st.Get("current_term") != float64(1) || !strings.Contains(string(st.Body), `"by_term":{"0":1,"1":1}`) {
			t.Fatalf("status before the rotation: %s", st.Body)
		}

		// Rotate through the API and wait for the job.
		rot := admin.Do(t, "POST", "/api/v1/keys/rotate", nil)
		wantStatus(t, rot, 202, "rotate")
		if rot.Get("term") != float64(2) {
			t.Fatalf("rotation answer %s", rot.Body)
		}
		deadline := time.Now().Add(2 * time.Minute) // hang guard only
		for {
			st = admin.Do(t, "GET", "/api/v1/keys", nil)
			rots, _ := st.Get("rotations").([]any)
			if len(rots) == 1 && rots[0].(map[string]any)["finished_at"] != nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the rotation did not finish: %s", st.Body)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if st.Get("current_term") != float64(2) || !strings.Contains(string(st.Body), `"by_term":{"2":2}`) {
			t.Fatalf("status after the rotation: %s", st.Body)
		}
		for _, id := range []string{bobID, cydID} {
			active, _, term := totpRow(t, inst, id)
			if n, err := secrets.TermOf(active); err != nil || n != 2 || term != 2 {
				t.Fatalf("user %s: secret under term %d (%v), totp_term %d", id, n, err, term)
			}
		}

		// Both still log in with their authenticator apps.
		inst.Clock.Advance(30 * time.Second)
		r, _ = login(t, inst, userEmail, userPW, totpCode(t, bobSecret, inst.Clock.Now()))
		wantStatus(t, r, 200, "bob's login after the rotation")
		r, _ = login(t, inst, otherEmail, otherPW, totpCode(t, cydSecret, inst.Clock.Now()))
		wantStatus(t, r, 200, "cyd's login after the rotation")

		// The rotation is in the activity log, with who asked for it.
		a := admin.Do(t, "GET", "/api/v1/audit?action=keyring.rotate", nil)
		if !strings.Contains(string(a.Body), `"target":"keyring:term/2"`) || !strings.Contains(string(a.Body), adminEmail) {
			t.Fatalf("audit: %s", a.Body)
		}

		// Bob's sealed secret pasted into Cyd's row does not decrypt
		// there: a login with Bob's code as Cyd fails, and says nothing
		// of the secret.
		bobActive, _, _ := totpRow(t, inst, bobID)
		if _, err := inst.App.Store.WriteDB().ExecContext(ctx, `UPDATE users SET totp_secret = $1 WHERE id = $2`, bobActive, cydID); err != nil {
			t.Fatal(err)
		}
		inst.Clock.Advance(30 * time.Second)
		r, _ = login(t, inst, otherEmail, otherPW, totpCode(t, bobSecret, inst.Clock.Now()))
		if r.Status != 500 || strings.Contains(string(r.Body), bobSecret) || strings.Contains(string(r.Body), bobActive) {
			t.Fatalf("login with a secret moved from another user: %d %s", r.Status, r.Body)
		}
	})
}
