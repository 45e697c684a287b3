package web_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/store"
)

// TestTOTP walks two-factor login: enrol with the password, confirm with
// a code, then logins need a fresh code or an unused recovery code, each
// usable once; turning it off needs the password.
func TestTOTP(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, _, _ := startWithUser(t, apptest.Options{Dialect: d})
		_, bob := login(t, inst, userEmail, userPW, "")
		loginWith := func(code string) *apptest.Response {
			t.Helper()
			r, _ := login(t, inst, userEmail, userPW, code)
			return r
		}

		// Enrolment needs the password again.
		before := snap(t, inst)
		wantError(t, bob.Do(t, "POST", "/api/v1/me/totp", map[string]any{"password": "Wrong-Guess-Number-1"}), 403, "wrong_password", "enrol, wrong password")
		sameState(t, inst, before, "enrol with a wrong password")
		r := bob.Do(t, "POST", "/api/v1/me/totp", map[string]any{"password": userPW})
		wantStatus(t, r, 200, "enrol")
		secret, url := r.String("secret"), r.String("otpauth_url")
		if len(secret) < 32 || !strings.HasPrefix(url, "otpauth://totp/") || !strings.Contains(url, "secret="+secret) {
			t.Fatalf("enrol answer: %s", r.Body)
		}
		// Pending is not on: login still needs no code.
		wantStatus(t, loginWith(""), 200, "login while enrolment is pending")

		// Confirm with a wrong code, then the right one.
		now := inst.Clock.Now()
		wantError(t, bob.Do(t, "POST", "/api/v1/me/totp/confirm", map[string]any{"code": wrongCode(t, secret, now)}), 422, "invalid_field", "confirm, wrong code (a logged-in user mistyping is not a failed login)")
		if me := bob.Do(t, "GET", "/api/v1/me", nil); me.Get("user.totp_enabled") != false {
			t.Fatalf("two-factor on after a wrong confirm code: %s", me.Body)
		}
		r = bob.Do(t, "POST", "/api/v1/me/totp/confirm", map[string]any{"code": totpCode(t, secret, now)})
		wantStatus(t, r, 200, "confirm")
		codes := r.Get("recovery_codes").([]any)
		if len(codes) != 10 {
			t.Fatalf("%d recovery codes, want 10", len(codes))
		}
		seen := map[string]bool{}
		for _, c := range codes {
			seen[c.(string)] = true
		}
		if len(seen) != 10 {
			t.Fatalf("recovery codes repeat: %v", codes)
		}
		if me := bob.Do(t, "GET", "/api/v1/me", nil); me.Get("user.totp_enabled") != true {
			t.Fatalf("two-factor not on after confirm: %s", me.Body)
		}
		wantError(t, bob.Do(t, "POST", "/api/v1/me/totp", map[string]any{"password": userPW}), 409, "totp_state", "enrol again while on")

		// The code that confirmed cannot log in: it is used.
		wantError(t, loginWith(totpCode(t, secret, now)), 401, "invalid_totp", "the confirm code replayed at login")

		inst.Clock.Advance(30 * time.Second)
		now = inst.Clock.Now()
		steps := []struct {
			name   string
			code   string
			status int
			errc   string
		}{
			{name: "no code", code: "", status: 401, errc: "totp_required"},
			{name: "wrong code", code: wrongCode(t, secret, now), status: 401, errc: "invalid_totp"},
			{name: "not digits", code: "abcdef", status: 401, errc: "invalid_totp"},
			{name: "right code", code: totpCode(t, secret, now), status: 200},
			{name: "same code again", code: totpCode(t, secret, now), status: 401, errc: "invalid_totp"},
			{name: "recovery code", code: codes[0].(string), status: 200},
			{name: "same recovery code again", code: codes[0].(string), status: 401, errc: "invalid_totp"},
			{name: "another recovery code", code: codes[1].(string), status: 200},
		}
		for _, s := range steps {
			before := snap(t, inst)
			r := loginWith(s.code)
			if s.status == 200 {
				wantStatus(t, r, 200, s.name)
				if snap(t, inst).Sessions != before.Sessions+1 {
					t.Fatalf("%s: no new session", s.name)
				}
				continue
			}
			wantError(t, r, s.status, s.errc, s.name)
			if snap(t, inst).Sessions != before.Sessions {
				t.Fatalf("%s: a refused login opened a session", s.name)
			}
		}
		// The next period's code works.
		inst.Clock.Advance(30 * time.Second)
		wantStatus(t, loginWith(totpCode(t, secret, inst.Clock.Now())), 200, "next period's code")

		// Turning it off needs the password.
		before = snap(t, inst)
		wantError(t, bob.Do(t, "POST", "/api/v1/me/totp/disable", map[string]any{"password": "Wrong-Guess-Number-1"}), 403, "wrong_password", "disable, wrong password")
		if after := snap(t, inst); after.UserRows != before.UserRows || after.RecoveryCodes != before.RecoveryCodes {
			t.Fatal("a refused disable changed the account")
		}
		wantError(t, loginWith(""), 401, "totp_required", "still on after a refused disable")
		wantStatus(t, bob.Do(t, "POST", "/api/v1/me/totp/disable", map[string]any{"password": userPW}), http.StatusNoContent, "disable")
		wantStatus(t, loginWith(""), 200, "login without a code after disable")
		if me := bob.Do(t, "GET", "/api/v1/me", nil); me.Get("user.totp_enabled") != false {
			t.Fatalf("two-factor still on: %s", me.Body)
		}
		// Old recovery codes are no second factor any more, and do not
		// help a wrong password either.
		r, _ = login(t, inst, userEmail, "Wrong-Guess-Number-2", codes[2].(string))
		wantError(t, r, 401, "invalid_credentials", "wrong password with a recovery code")
	})
}

// TestTOTPConcurrentReplay: a code, or a recovery code, sent by several
// logins at the same moment logs in only one of them.
func TestTOTPConcurrentReplay(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, _, _ := startWithUser(t, apptest.Options{Dialect: d})
		bob := inst.Login(t, userEmail, userPW)
		secret := bob.Do(t, "POST", "/api/v1/me/totp", map[string]any{"password": userPW}).String("secret")
		r := bob.Do(t, "POST", "/api/v1/me/totp/confirm", map[string]any{"code": totpCode(t, secret, inst.Clock.Now())})
		wantStatus(t, r, 200, "confirm")
		recovery := r.Get("recovery_codes").([]any)[0].(string)
		for _, kind := range []string{"totp", "recovery"} {
			// Past the previous round's lockout and into a fresh period.
			inst.Clock.Advance(2 * time.Hour)
			code := recovery
			if kind == "totp" {
				code = totpCode(t, secret, inst.Clock.Now())
			}
			const n = 10
			start := make(chan struct{})
			var wg sync.WaitGroup
			var ok atomic.Int32
			for range n {
				c := inst.NewClient()
				wg.Go(func() {
					<-start
					status, err := postStatus(c, "POST", "/api/v1/auth/login", map[string]any{"email": userEmail, "password": userPW, "totp": code})
					if err != nil {
						t.Error(err)
					}
					if status == 200 {
						ok.Add(1)
					}
				})
			}
			close(start)
			wg.Wait()
			if ok.Load() != 1 {
				t.Fatalf("%s: %d of %d concurrent logins with one code succeeded, want 1", kind, ok.Load(), n)
			}
		}
	})
}

// wrongCode is a six-digit code that matches none of the steps the server
// accepts around at.
func wrongCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	valid := map[string]bool{}
	for _, d := range []time.Duration{-30 * time.Second, 0, 30 * time.Second} {
		valid[totpCode(t, secret, at.Add(d))] = true
	}
	n, _ := strconv.Atoi(totpCode(t, secret, at))
	for {
		n = (n + 1) % 1000000
		if c := fmt.Sprintf("%06d", n); !valid[c] {
			return c
		}
	}
}
