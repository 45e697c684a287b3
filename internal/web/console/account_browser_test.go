package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/auth"
)

// newAdminPassword is what TestAccountPasswordAndTOTPInBrowser changes the
// password to.
const newAdminPassword = "Quartz-Harbour-Willow-73"

// codeAt is the code an authenticator app shows for secret at the
// instance's (settable) time: the same RFC 6238 generator the account
// service checks codes with.
func codeAt(t *testing.T, inst *apptest.Instance, secret string) string {
	t.Helper()
	code, err := totp.GenerateCode(secret, inst.Clock.Now())
	if err != nil {
		t.Fatalf("make a TOTP code: %v", err)
	}
	return code
}

// otherCode is a well-formed code that is not want.
func otherCode(want string) string {
	if want == "000000" {
		return "111111"
	}
	return "000000"
}

// loginInBrowser fills the login form and submits it, returning the
// status of the page the browser lands on.
func loginInBrowser(b *browser, base, email, password, code string) int64 {
	b.t.Helper()
	b.open(base + "/login")
	b.typeInto("email", email)
	b.typeInto("password", password)
	if code != "" {
		b.typeInto("totp", code)
	}
	return b.submit("submit")
}

// TestAccountPasswordAndTOTPInBrowser changes the password through the
// account page (a wrong current password is refused beside its field) and
// logs in with the new one; then turns two-factor login on (a wrong code
// refused, the right one accepted, recovery codes shown once) and logs in
// again: without a code and with a wrong one the login is refused with the
// problem next to the code's field, with the current code it works.
func TestAccountPasswordAndTOTPInBrowser(t *testing.T) {
	t.Parallel()
	inst := apptest.Start(t, apptest.Options{})
	b := newBrowser(t)
	base := inst.URL
	shots := shotsDir(t)
	setupInBrowser(t, b, inst)

	b.do("open the account page", chromedp.Click(chromedp.CSS("#nav-account")), chromedp.WaitVisible(chromedp.CSS("#password-form")))
	b.expectPage(base, "/account")
	if e := b.text("account-email"); e != adminEmail {
		t.Errorf("the account page shows email %q, want %q", e, adminEmail)
	}
	if n := b.text("account-name"); n != "Ada" {
		t.Errorf("the account page shows name %q, want Ada", n)
	}
	if s := b.text("totp-state"); s != "off" {
		t.Errorf("two-factor login shows %q before it was turned on", s)
	}
	b.expectStyled()
	b.shot(shots, "account.png")

	// A wrong current password is refused beside its field.
	b.typeInto("current-password", "not my password at all")
	b.typeInto("new-password", newAdminPassword)
	if st := b.submit("change-password"); st != http.StatusForbidden {
		t.Errorf("wrong current password: status %d, want 403", st)
	}
	if s := b.text("error-current-password"); !strings.Contains(s, "does not match") {
		t.Errorf("wrong current password: the field says %q", s)
	}
	// A new password the rules refuse is refused beside its own field.
	b.typeInto("current-password", adminPassword)
	b.typeInto("new-password", "short")
	if st := b.submit("change-password"); st != http.StatusUnprocessableEntity {
		t.Errorf("too short a new password: status %d, want 422", st)
	}
	if s := b.text("error-new-password"); !strings.HasPrefix(s, "New password") {
		t.Errorf("too short a new password: the field says %q", s)
	}
	b.typeInto("current-password", adminPassword)
	b.typeInto("new-password", newAdminPassword)
	if st := b.submit("change-password"); st != http.StatusOK {
		t.Fatalf("change password: status %d; page:\n%s", st, b.bodyText())
	}
	b.expectPage(base, "/account?notice=password-changed")

	// The old password no longer logs in; the new one does.
	b.submit("logout")
	if st := loginInBrowser(b, base, adminEmail, adminPassword, ""); st != http.StatusUnauthorized {
		t.Errorf("log in with the old password: status %d, want 401", st)
	}
	if st := loginInBrowser(b, base, adminEmail, newAdminPassword, ""); st != http.StatusOK {
		t.Fatalf("log in with the new password: status %d; page:\n%s", st, b.bodyText())
	}
	b.expectPage(base, "/")

	// Two-factor login: the password first, then the secret to scan.
	b.open(base + "/account")
	b.typeInto("totp-password", newAdminPassword)
	if st := b.submit("totp-begin"); st != http.StatusOK {
		t.Fatalf("begin two-factor enrolment: status %d; page:\n%s", st, b.bodyText())
	}
	secret := b.text("totp-secret")
	if u := b.text("totp-url"); !strings.HasPrefix(u, "otpauth://totp/") || !strings.Contains(u, "secret="+secret) {
		t.Errorf("the setup link is %q, want an otpauth://totp/ address with the secret %q", u, secret)
	}
	b.shot(shots, "account-totp-enrol.png")

	// A wrong code is refused beside the field; the enrolment stays
	// pending and the right code then turns it on.
	b.typeInto("totp-code", otherCode(codeAt(t, inst, secret)))
	if st := b.submit("totp-confirm"); st != http.StatusUnprocessableEntity {
		t.Errorf("wrong enrolment code: status %d, want 422", st)
	}
	if s := b.text("error-code"); !strings.Contains(s, "wrong or expired") {
		t.Errorf("wrong enrolment code: the field says %q", s)
	}
	if b.has("totp-secret") {
		t.Error("the secret is shown again after a wrong code")
	}
	b.typeInto("totp-code", codeAt(t, inst, secret))
	if st := b.submit("totp-confirm"); st != http.StatusOK {
		t.Fatalf("confirm two-factor login: status %d; page:\n%s", st, b.bodyText())
	}
	if s := b.text("totp-state"); s != "on" {
		t.Errorf("after confirming, two-factor login shows %q", s)
	}
	if n := b.count("#recovery-codes li"); n != 10 {
		t.Errorf("%d recovery codes shown, want 10", n)
	}
	b.shot(shots, "account-totp-on.png")
	b.open(base + "/account")
	if b.has("recovery-codes") || b.has("totp-secret") {
		t.Error("the recovery codes or the secret are shown again on a later visit")
	}
	if s := b.text("recovery-left"); s != "10" {
		t.Errorf("recovery codes left: %q, want 10", s)
	}

	// Logging in now needs the code.
	b.submit("logout")
	if st := loginInBrowser(b, base, adminEmail, newAdminPassword, ""); st != http.StatusUnauthorized {
		t.Errorf("log in without the code: status %d, want 401", st)
	}
	if s := b.text("error-totp"); !strings.Contains(s, "6-digit code") {
		t.Errorf("log in without the code: the code's field says %q", s)
	}
	if req := b.eval("code required", `String(document.getElementById('totp').required)`); req != "true" {
		t.Errorf("after the code was asked for, the field is not required")
	}
	b.shot(shots, "login-totp.png")
	// The code of the enrolment's step was used: the next step's code is
	// what the app shows half a minute later.
	inst.Clock.Advance(30 * time.Second)
	right := codeAt(t, inst, secret)
	if st := loginInBrowser(b, base, adminEmail, newAdminPassword, otherCode(right)); st != http.StatusUnauthorized {
		t.Errorf("log in with a wrong code: status %d, want 401", st)
	}
	if s := b.text("error-totp"); !strings.Contains(s, "wrong") {
		t.Errorf("log in with a wrong code: the code's field says %q", s)
	}
	if b.sessionCookie(base) != nil {
		t.Error("a refused code left a session cookie")
	}
	if st := loginInBrowser(b, base, adminEmail, newAdminPassword, right); st != http.StatusOK {
		t.Fatalf("log in with the right code: status %d; page:\n%s", st, b.bodyText())
	}
	b.expectPage(base, "/")

	// Turning it off takes the password; a wrong one is refused.
	b.open(base + "/account")
	b.typeInto("disable-password", "not my password at all")
	if st := b.submit("totp-disable"); st != http.StatusForbidden {
		t.Errorf("turn off with a wrong password: status %d, want 403", st)
	}
	if s := b.text("error-disable-password"); !strings.Contains(s, "does not match") {
		t.Errorf("turn off with a wrong password: the field says %q", s)
	}
	b.typeInto("disable-password", newAdminPassword)
	if st := b.submit("totp-disable"); st != http.StatusOK {
		t.Fatalf("turn two-factor login off: status %d; page:\n%s", st, b.bodyText())
	}
	b.expectPage(base, "/account?notice=totp-disabled")
	if s := b.text("totp-state"); s != "off" {
		t.Errorf("after turning it off, two-factor login shows %q", s)
	}
}

// TestAccountKeysAndSessionsInBrowser creates an API key (its token shown
// once), uses it from Go, revokes it; then ends a second session (a login
// from Go) from the sessions list, and all others at once. It checks the
// page on a phone's width and that a forged post is refused.
func TestAccountKeysAndSessionsInBrowser(t *testing.T) {
	t.Parallel()
	inst := apptest.Start(t, apptest.Options{})
	b := newBrowser(t)
	base := inst.URL
	shots := shotsDir(t)
	setupInBrowser(t, b, inst)

	b.open(base + "/account")
	if s := b.text("keys-empty"); !strings.Contains(s, "Create one below") {
		t.Errorf("the empty keys list says %q", s)
	}
	// A blank name is refused beside its field.
	b.typeInto("key-name", "  ")
	if st := b.submit("create-key"); st != http.StatusUnprocessableEntity {
		t.Errorf("blank key name: status %d, want 422", st)
	}
	if s := b.text("error-key-name"); !strings.HasPrefix(s, "Name is required") {
		t.Errorf("blank key name: the field says %q", s)
	}
	b.typeInto("key-name", "ci")
	b.typeInto("key-days", "30")
	if st := b.submit("create-key"); st != http.StatusOK {
		t.Fatalf("create key: status %d; page:\n%s", st, b.bodyText())
	}
	token := b.text("new-key-token")
	if !strings.HasPrefix(token, auth.APIKeyPrefix) {
		t.Fatalf("the new key's token is %q, want one starting with %s", token, auth.APIKeyPrefix)
	}
	b.shot(shots, "account-new-key.png")
	b.open(base + "/account")
	if b.has("new-key-token") || strings.Contains(b.bodyText(), token) {
		t.Error("the key's token is shown again on a later visit")
	}
	if n := b.count("#keys-table tbody tr"); n != 1 {
		t.Errorf("%d keys listed, want 1", n)
	}

	// The token works as a script would send it.
	script := inst.NewClient()
	script.Bearer = token
	if r := script.Do(t, "GET", "/api/v1/me", nil); r.Status != http.StatusOK || r.String("auth") != "api_key" {
		t.Fatalf("GET /api/v1/me with the new key: %d %s", r.Status, r.Body)
	}
	if st := b.submitQuery("button.revoke-key"); st != http.StatusOK {
		t.Fatalf("revoke key: status %d; page:\n%s", st, b.bodyText())
	}
	b.expectPage(base, "/account?notice=key-revoked")
	if r := script.Do(t, "GET", "/api/v1/me", nil); r.Status != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/me with the revoked key: %d, want 401", r.Status)
	}
	if !b.has("keys-empty") {
		t.Error("the revoked key is still listed")
	}

	// A second session, from Go, shows up and can be ended.
	other := inst.Login(t, adminEmail, adminPassword)
	otherID := other.Do(t, "GET", "/api/v1/me", nil).String("session_id")
	b.open(base + "/account")
	if n := b.count("#sessions-table tbody tr"); n != 2 {
		t.Errorf("%d sessions listed, want 2 (the browser's and Go's)", n)
	}
	if n := b.count(".current-session #this-session"); n != 1 {
		t.Errorf("%d sessions marked as this one, want 1", n)
	}
	if b.has("revoke-session-"+otherID) == false || b.count(".current-session .revoke-session") != 0 {
		t.Error("the other session has no End button, or this one has one")
	}
	b.shot(shots, "account-sessions.png")
	if st := b.submit("revoke-session-" + otherID); st != http.StatusOK {
		t.Fatalf("end the other session: status %d; page:\n%s", st, b.bodyText())
	}
	b.expectPage(base, "/account?notice=session-revoked")
	if r := other.Do(t, "GET", "/api/v1/me", nil); r.Status != http.StatusUnauthorized {
		t.Errorf("the ended session still answers: %d", r.Status)
	}
	if n := b.count("#sessions-table tbody tr"); n != 1 {
		t.Errorf("%d sessions listed after ending one, want 1", n)
	}

	// End all others: two more sessions go, the browser's stays.
	more := []*apptest.Client{inst.Login(t, adminEmail, adminPassword), inst.Login(t, adminEmail, adminPassword)}
	b.open(base + "/account")
	if st := b.submit("revoke-others"); st != http.StatusOK {
		t.Fatalf("end all other sessions: status %d; page:\n%s", st, b.bodyText())
	}
	b.expectPage(base, "/account?notice=sessions-revoked")
	for i, c := range more {
		if r := c.Do(t, "GET", "/api/v1/me", nil); r.Status != http.StatusUnauthorized {
			t.Errorf("session %d still answers after ending all others: %d", i, r.Status)
		}
	}

	// A post without the page's CSRF token, with the browser's cookie, is
	// refused and ends nothing.
	victim := inst.Login(t, adminEmail, adminPassword)
	forger := inst.NewClient()
	u, _ := url.Parse(base)
	forger.HTTP.Jar.SetCookies(u, []*http.Cookie{{Name: b.sessionCookie(base).Name, Value: b.sessionCookie(base).Value}})
	if r := forger.Raw(t, "POST", "/account/sessions/revoke-others", "application/x-www-form-urlencoded", []byte("csrf_token=forged")); r.Status != http.StatusForbidden {
		t.Errorf("forged post: status %d, want 403", r.Status)
	}
	if r := victim.Do(t, "GET", "/api/v1/me", nil); r.Status != http.StatusOK {
		t.Errorf("a forged post ended a session: %d", r.Status)
	}

	// On a phone's width the page fits: nothing scrolls sideways.
	b.do("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	b.open(base + "/account")
	if w := strings.Fields(b.eval("widths", `document.documentElement.scrollWidth + " " + document.documentElement.clientWidth`)); len(w) != 2 || w[0] != w[1] {
		t.Errorf("the account page on a phone: scroll width and viewport width are %v, want them equal", w)
	}
	b.shot(shots, "account-phone.png")
	b.do("reset viewport", chromedp.EmulateReset())
}
