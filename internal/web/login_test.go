package web_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/auth"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

// TestLoginCookie checks the session cookie's attributes over plain HTTP
// and under TLS, where it takes the __Host- prefix and HSTS is sent.
func TestLoginCookie(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		tls        bool
		cookie     string
		wantSecure bool
		wantHSTS   bool
	}{
		{name: "plain http", tls: false, cookie: "sluice_session", wantSecure: false, wantHSTS: false},
		{name: "tls", tls: true, cookie: "__Host-sluice_session", wantSecure: true, wantHSTS: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inst, _, _ := startWithUser(t, apptest.Options{TLS: tt.tls})
			r, c := login(t, inst, userEmail, userPW, "")
			wantStatus(t, r, http.StatusOK, "login")
			if r.String("csrf_token") == "" || r.String("user.email") != userEmail {
				t.Fatalf("login answer: %s", r.Body)
			}
			if strings.Contains(string(r.Body), "password") {
				t.Fatalf("login answer mentions the password: %s", r.Body)
			}
			ck := setCookie(r, tt.cookie)
			if ck == nil {
				t.Fatalf("no %s cookie in %q", tt.cookie, r.Header.Values("Set-Cookie"))
			}
			if other := setCookie(r, map[bool]string{true: "sluice_session", false: "__Host-sluice_session"}[tt.tls]); other != nil {
				t.Fatalf("the cookie of the other mode was set too: %v", other)
			}
			if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Domain != "" || ck.Secure != tt.wantSecure {
				t.Fatalf("cookie %q: HttpOnly=%v SameSite=%v Path=%q Domain=%q Secure=%v", r.Header.Get("Set-Cookie"),
					ck.HttpOnly, ck.SameSite, ck.Path, ck.Domain, ck.Secure)
			}
			if len(ck.Value) < 43 { // 256 bits in base64url
				t.Fatalf("session ID %q is shorter than 256 bits", ck.Value)
			}
			if ck.MaxAge <= 0 || ck.MaxAge > int((7*24*time.Hour)/time.Second) {
				t.Fatalf("cookie Max-Age %d, want within the session's 7-day lifetime", ck.MaxAge)
			}
			if hsts := r.Header.Get("Strict-Transport-Security"); (hsts != "") != tt.wantHSTS {
				t.Fatalf("Strict-Transport-Security = %q, want present=%v", hsts, tt.wantHSTS)
			}
			if tt.wantHSTS && !strings.Contains(r.Header.Get("Strict-Transport-Security"), "max-age=") {
				t.Fatalf("HSTS without max-age: %q", r.Header.Get("Strict-Transport-Security"))
			}
			// The only thing that matters: the cookie authenticates.
			if got := c.Do(t, "GET", "/api/v1/me", nil); got.Status != 200 || got.String("auth") != "session" {
				t.Fatalf("me with the new cookie: %d %s", got.Status, got.Body)
			}
		})
	}
}

// TestLoginNewSessionEveryTime: each login opens a new session with a new
// ID, and a cookie value the browser held before login (planted by an
// attacker) is never adopted.
func TestLoginNewSessionEveryTime(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, admin, _ := startWithUser(t, apptest.Options{Dialect: d})

		// The same browser logs in twice.
		c := inst.NewClient()
		var values []string
		for i := range 2 {
			r := c.Do(t, "POST", "/api/v1/auth/login", map[string]any{"email": userEmail, "password": userPW})
			wantStatus(t, r, 200, fmt.Sprintf("login %d", i+1))
			c.CSRF = r.String("csrf_token")
			values = append(values, sessionCookie(c))
		}
		if values[0] == "" || values[0] == values[1] {
			t.Fatalf("two logins gave cookie values %q and %q", values[0], values[1])
		}
		r := c.Do(t, "GET", "/api/v1/me/sessions", nil)
		wantStatus(t, r, 200, "list sessions")
		if n := len(r.Get("sessions").([]any)); n != 2 {
			t.Fatalf("%d sessions listed after two logins, want 2: %s", n, r.Body)
		}

		// Fixation: whatever session cookie the browser (or curl's cookie
		// jar) held before login, a made-up value, the attacker's own live
		// session planted on the victim, or the user's own live session, is
		// replaced by a new one at login and is not adopted.
		_, own := login(t, inst, userEmail, userPW, "")
		tests := []struct {
			name     string
			planted  string
			noOrigin bool // curl sends no Origin
			form     bool // the console's login form
		}{
			{name: "made-up value", planted: "attacker-chosen-session-id-0123456789abcdefgh"},
			{name: "attacker's live session", planted: sessionCookie(admin)},
			{name: "attacker's live session, console form", planted: sessionCookie(admin), form: true},
			{name: "own live session, curl cookie jar", planted: sessionCookie(own), noOrigin: true},
		}
		for _, tt := range tests {
			victim := clientWithCookie(t, inst, tt.planted)
			victim.NoOrigin = tt.noOrigin
			var r *apptest.Response
			if tt.form {
				r = victim.Form(t, "/login", url.Values{"email": {userEmail}, "password": {userPW}})
				wantStatus(t, r, http.StatusSeeOther, tt.name)
			} else {
				r = victim.Do(t, "POST", "/api/v1/auth/login", map[string]any{"email": userEmail, "password": userPW})
				wantStatus(t, r, http.StatusOK, tt.name)
			}
			got := sessionCookie(victim)
			if got == tt.planted || got == "" {
				t.Fatalf("%s: login kept the cookie %q", tt.name, tt.planted)
			}
			if me := victim.Do(t, "GET", "/api/v1/me", nil); me.String("user.email") != userEmail {
				t.Fatalf("%s: the new cookie is not bob's session: %s", tt.name, me.Body)
			}
			who := clientWithCookie(t, inst, tt.planted).Do(t, "GET", "/api/v1/me", nil)
			if who.Status == 200 && who.String("session_id") == victim.Do(t, "GET", "/api/v1/me", nil).String("session_id") {
				t.Fatalf("%s: the planted cookie names the new session", tt.name)
			}
		}
		// A login form posted from another site is still refused.
		r = clientWithCookie(t, inst, sessionCookie(admin)).Send(t, formRequest(t, inst.URL+"/login", "https://evil.example",
			url.Values{"email": {userEmail}, "password": {userPW}}))
		if r.Status != http.StatusForbidden || setCookie(r, "sluice_session") != nil {
			t.Fatalf("cross-site login form: %d, Set-Cookie %q", r.Status, r.Header.Values("Set-Cookie"))
		}
	})
}

// TestLoginSameAnswerForUnknownAndWrong: an unknown email and a wrong
// password get byte-identical answers, so the API does not tell which
// accounts exist.
func TestLoginSameAnswerForUnknownAndWrong(t *testing.T) {
	t.Parallel()
	inst, _, _ := startWithUser(t, apptest.Options{})
	tests := []struct{ name, email, password string }{
		{name: "wrong password", email: userEmail, password: "Not-The-Right-One-55"},
		{name: "unknown email", email: "nobody@example.com", password: "Not-The-Right-One-55"},
		{name: "unknown email, the user's password", email: "nobody@example.com", password: userPW},
		{name: "known email in capitals, wrong password", email: strings.ToUpper(userEmail), password: "Not-The-Right-One-55"},
	}
	var first []byte
	for _, tt := range tests {
		before := snap(t, inst)
		r, _ := login(t, inst, tt.email, tt.password, "")
		wantError(t, r, http.StatusUnauthorized, "invalid_credentials", tt.name)
		if setCookie(r, "sluice_session") != nil {
			t.Fatalf("%s: failed login set a cookie", tt.name)
		}
		if first == nil {
			first = r.Body
		} else if !bytes.Equal(first, r.Body) {
			t.Fatalf("%s: body differs:\n%s\n%s", tt.name, first, r.Body)
		}
		after := snap(t, inst)
		if after.Sessions != before.Sessions || after.UserRows != before.UserRows {
			t.Fatalf("%s: failed login changed users or sessions", tt.name)
		}
	}
}

// TestLoginThrottle locks an account out after five wrong passwords, also
// against the right one, until the lockout has passed; and an IP after 20
// failures across accounts.
func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, _, _ := startWithUser(t, apptest.Options{Dialect: d})
		for i := range 5 {
			r, _ := login(t, inst, userEmail, "Wrong-Guess-Number-"+strconv.Itoa(i), "")
			wantError(t, r, http.StatusUnauthorized, "invalid_credentials", fmt.Sprintf("wrong password %d", i+1))
		}
		r, _ := login(t, inst, userEmail, "Wrong-Guess-Number-6", "")
		retry := wantThrottled(t, r, "sixth wrong password")

		before := snap(t, inst)
		r, _ = login(t, inst, userEmail, userPW, "")
		if wait := wantThrottled(t, r, "right password while locked"); wait > retry {
			t.Fatalf("Retry-After grew from %d to %d without a further failure", retry, wait)
		}
		if snap(t, inst).Sessions != before.Sessions {
			t.Fatal("a locked-out login opened a session")
		}
		// Other accounts from the same IP are not locked by this one.
		if r, _ := login(t, inst, adminEmail, adminPW, ""); r.Status != 200 {
			t.Fatalf("another account is locked too: %d %s", r.Status, r.Body)
		}

		inst.Clock.Advance(time.Duration(retry-1) * time.Second)
		r, _ = login(t, inst, userEmail, userPW, "")
		wantThrottled(t, r, "a second before the lockout ends")
		inst.Clock.Advance(time.Second)
		r, _ = login(t, inst, userEmail, userPW, "")
		wantStatus(t, r, http.StatusOK, "right password after the lockout")
	})
}

func TestLoginThrottlePerIP(t *testing.T) {
	t.Parallel()
	inst, _, _ := startWithUser(t, apptest.Options{})
	for i := range 20 {
		r, _ := login(t, inst, fmt.Sprintf("nobody%d@example.com", i), "Wrong-Guess-Number-1", "")
		wantError(t, r, http.StatusUnauthorized, "invalid_credentials", fmt.Sprintf("failure %d", i+1))
	}
	r, _ := login(t, inst, "nobody-else@example.com", "Wrong-Guess-Number-1", "")
	wantThrottled(t, r, "21st failure from one IP")
	before := snap(t, inst)
	r, _ = login(t, inst, userEmail, userPW, "")
	wantThrottled(t, r, "a real account from the locked IP")
	if snap(t, inst).Sessions != before.Sessions {
		t.Fatal("a login from a locked IP opened a session")
	}
}

// formRequest is an HTML form post with the given Origin.
func formRequest(t *testing.T, target, origin string, v url.Values) *http.Request {
	t.Helper()
	req, err := http.NewRequest("POST", target, strings.NewReader(v.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", origin)
	return req
}

// wantThrottled checks a 429 with a Retry-After of at least a second and
// returns it.
func wantThrottled(t *testing.T, r *apptest.Response, what string) int {
	t.Helper()
	wantError(t, r, http.StatusTooManyRequests, "too_many_attempts", what)
	n, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || n < 1 {
		t.Fatalf("%s: Retry-After %q, want a whole number of seconds ≥ 1", what, r.Header.Get("Retry-After"))
	}
	return n
}

// TestLoginDisabledAccount: the right password of a disabled account is
// refused with account_disabled; a wrong one still says only
// invalid_credentials.
func TestLoginDisabledAccount(t *testing.T) {
	t.Parallel()
	inst, admin, bob := startWithUser(t, apptest.Options{})
	wantStatus(t, admin.Do(t, "PATCH", "/api/v1/users/"+bob, map[string]any{"disabled": true}), 200, "disable")
	before := snap(t, inst)
	r, _ := login(t, inst, userEmail, userPW, "")
	wantError(t, r, http.StatusForbidden, "account_disabled", "disabled account, right password")
	r, _ = login(t, inst, userEmail, "Wrong-Guess-Number-1", "")
	wantError(t, r, http.StatusUnauthorized, "invalid_credentials", "disabled account, wrong password")
	if snap(t, inst).Sessions != before.Sessions {
		t.Fatal("a disabled account got a session")
	}
}

// TestLoginRehash: a stored hash made with other argon2id parameters is
// replaced at the next successful login by one with the instance's.
func TestLoginRehash(t *testing.T) {
	t.Parallel()
	cheap := apptest.CheapParams
	with := func(f func(p *auth.Params)) auth.Params { p := cheap; f(&p); return p }
	tests := []struct {
		name       string
		stored     auth.Params
		wantRehash bool
	}{
		{name: "less memory", stored: with(func(p *auth.Params) { p.Memory = 32 }), wantRehash: true},
		{name: "more time", stored: with(func(p *auth.Params) { p.Time = 3 }), wantRehash: true},
		{name: "more threads", stored: with(func(p *auth.Params) { p.Threads = 2 }), wantRehash: true},
		{name: "longer key", stored: with(func(p *auth.Params) { p.KeyLen = 64 }), wantRehash: true},
		{name: "current parameters", stored: cheap, wantRehash: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inst, _, bob := startWithUser(t, apptest.Options{})
			want := inst.App.Accounts.Params()
			old, err := auth.HashPassword(userPW, tt.stored)
			if err != nil {
				t.Fatal(err)
			}
			if err := inst.App.Store.Writer().SetPasswordHash(context.Background(), bob, old, false); err != nil {
				t.Fatal(err)
			}
			// A failed login must not rehash (it has no password to hash).
			r, _ := login(t, inst, userEmail, "Wrong-Guess-Number-1", "")
			wantStatus(t, r, 401, "wrong password")
			if got := userByEmail(t, inst, userEmail).PasswordHash; got != old {
				t.Fatalf("a failed login changed the hash")
			}
			r, _ = login(t, inst, userEmail, userPW, "")
			wantStatus(t, r, 200, "login")
			got := userByEmail(t, inst, userEmail).PasswordHash
			if (got != old) != tt.wantRehash {
				t.Fatalf("hash replaced = %v, want %v", got != old, tt.wantRehash)
			}
			if m, ti, p, keyLen := phcParams(t, got); m != want.Memory || ti != want.Time || p != uint32(want.Threads) || keyLen != want.KeyLen {
				t.Fatalf("stored hash %s has m=%d t=%d p=%d key=%d, want the instance's %+v", got, m, ti, p, keyLen, want)
			}
			// The new hash still verifies the password.
			if r, _ := login(t, inst, userEmail, userPW, ""); r.Status != 200 {
				t.Fatalf("login after rehash: %d %s", r.Status, r.Body)
			}
		})
	}
}

// phcParams reads m, t, p and the key length out of an argon2id PHC string.
func phcParams(t *testing.T, phc string) (m, ti, p, keyLen uint32) {
	t.Helper()
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		t.Fatalf("not an argon2id PHC string: %q", phc)
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &ti, &p); err != nil {
		t.Fatalf("parameters of %q: %v", phc, err)
	}
	keyLen = uint32(len(parts[5]) * 6 / 8) // unpadded base64
	return m, ti, p, keyLen
}

// TestProductionParams: the parameters a real server hashes with meet RFC
// 9106's second recommendation (m ≥ 19 MiB, t ≥ 2), and are what a
// default account service uses.
func TestProductionParams(t *testing.T) {
	t.Parallel()
	p := auth.DefaultParams
	if p.Memory < 19*1024 || p.Time < 2 || p.Threads < 1 || p.SaltLen < 16 || p.KeyLen < 32 {
		t.Fatalf("auth.DefaultParams = %+v, want m ≥ 19456 KiB, t ≥ 2, p ≥ 1, salt ≥ 16, key ≥ 32", p)
	}
	svc := account.NewService(storetest.Open(t, store.SQLite, store.Options{}), account.Config{})
	if svc.Params() != p {
		t.Fatalf("default service params %+v, want %+v", svc.Params(), p)
	}
	h, err := auth.HashPassword(userPW, svc.Params())
	if err != nil {
		t.Fatal(err)
	}
	if m, ti, _, _ := phcParams(t, h); m < 19*1024 || ti < 2 {
		t.Fatalf("hash %s is weaker than m=19456,t=2", h)
	}
}

// TestLogout ends the session on the server, not only in the browser.
func TestLogout(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, _, _ := startWithUser(t, apptest.Options{Dialect: d})
		_, c := login(t, inst, userEmail, userPW, "")
		_, other := login(t, inst, userEmail, userPW, "")
		value := sessionCookie(c)
		before := snap(t, inst)

		r := c.Do(t, "POST", "/api/v1/auth/logout", nil)
		wantStatus(t, r, http.StatusNoContent, "logout")
		ck := setCookie(r, httpx.SessionCookieName(false))
		if ck == nil || ck.Value != "" || ck.MaxAge >= 0 {
			t.Fatalf("logout does not clear the cookie: %q", r.Header.Values("Set-Cookie"))
		}
		if got := snap(t, inst).Sessions; got != before.Sessions-1 {
			t.Fatalf("sessions %d → %d, want one fewer", before.Sessions, got)
		}
		if sessionCookie(c) != "" {
			t.Fatal("the client still holds the cookie")
		}
		// A copy of the cookie kept elsewhere is dead too.
		wantError(t, clientWithCookie(t, inst, value).Do(t, "GET", "/api/v1/me", nil), 401, "unauthenticated", "old cookie after logout")
		// Logging out of one session leaves the others.
		wantStatus(t, other.Do(t, "GET", "/api/v1/me", nil), 200, "the other session")
		// Logout needs a session: anonymous gets 401.
		wantError(t, inst.NewClient().Do(t, "POST", "/api/v1/auth/logout", nil), 401, "unauthenticated", "anonymous logout")
	})
}
