package console

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

// accountRoutes are the pages of the user's own account: password, two-factor login, API keys, sessions.
// They are the console's twins of /api/v1/me/...: the same account
// service calls, each form posting to a route of its own.
func (c *Console) accountRoutes() []httpx.Route {
	user := httpx.User
	return []httpx.Route{
		{Method: "GET", Path: "/account", Access: user, Handler: c.accountPage},
		{Method: "POST", Path: "/account/password", Access: user, Handler: c.accountPassword, Form: true},
		{Method: "POST", Path: "/account/totp", Access: user, Handler: c.accountTOTPBegin, Form: true},
		{Method: "POST", Path: "/account/totp/confirm", Access: user, Handler: c.accountTOTPConfirm, Form: true},
		{Method: "POST", Path: "/account/totp/disable", Access: user, Handler: c.accountTOTPDisable, Form: true},
		{Method: "POST", Path: "/account/totp/recovery-codes", Access: user, Handler: c.accountRecoveryCodes, Form: true},
		{Method: "POST", Path: "/account/api-keys", Access: user, Handler: c.accountKeyCreate, Form: true},
		{Method: "POST", Path: "/account/api-keys/{id}/revoke", Access: user, Handler: c.accountKeyRevoke, Form: true},
		{Method: "POST", Path: "/account/sessions/{id}/revoke", Access: user, Handler: c.accountSessionRevoke, Form: true},
		{Method: "POST", Path: "/account/sessions/revoke-others", Access: user, Handler: c.accountSessionsRevokeOthers, Form: true},
	}
}

// accountData is what the account page shows. The secrets (TOTP secret,
// recovery codes, a new key's token) are set only on the answer to the
// post that made them: they are shown once and never stored for display.
type accountData struct {
	User         *store.User
	Sessions     []sessionItem
	Keys         []*store.APIKey
	RecoveryLeft int
	// Enrol is a pending TOTP secret to scan and confirm.
	Enrol *account.TOTPEnrollment
	// RecoveryCodes were just made (TOTP confirmed or codes renewed).
	RecoveryCodes []string
	// NewKey was just created; its token is on the page this once.
	NewKey *account.NewAPIKey
}

// sessionItem is one row of the sessions list.
type sessionItem struct {
	Session *store.Session
	Current bool
}

// accountNotices are the notices a redirect may name: codes, never text
// from the URL.
var accountNotices = map[string]string{
	"password-changed": "Your password is changed. Your other sessions were ended.",
	"totp-disabled":    "Two-factor login is off.",
	"key-revoked":      "The API key is revoked: requests with it are refused from now on.",
	"session-revoked":  "The session is ended.",
	"sessions-revoked": "Your other sessions are ended.",
}

func (c *Console) accountPage(w http.ResponseWriter, r *http.Request) {
	c.renderAccount(w, r, http.StatusOK, page{Notice: accountNotices[r.URL.Query().Get("notice")]}, accountData{})
}

// renderAccount shows the account page with what d already holds (a
// secret to show once) plus the current state read afresh.
func (c *Console) renderAccount(w http.ResponseWriter, r *http.Request, status int, p page, d accountData) {
	pr := principalOf(r)
	u := pr.User
	// A post on this request may have changed the user (two-factor on or
	// off): read it again rather than show the state the request began with.
	if c.Services.Store != nil {
		fresh, err := c.Services.Store.Reader().UserByID(r.Context(), pr.User.ID)
		if err != nil {
			c.Fail(w, r, err)
			return
		}
		u = fresh
	}
	d.User = u
	sessions, err := c.Accounts.Sessions(r.Context(), pr)
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	for _, s := range sessions {
		d.Sessions = append(d.Sessions, sessionItem{Session: s, Current: pr.Session != nil && s.ID == pr.Session.ID})
	}
	if d.Keys, err = c.Accounts.APIKeys(r.Context(), pr); err != nil {
		c.Fail(w, r, err)
		return
	}
	if u.TOTPEnabled {
		if d.RecoveryLeft, err = c.Accounts.RecoveryCodesLeft(r.Context(), pr); err != nil {
			c.Fail(w, r, err)
			return
		}
	}
	p.Title = "Account"
	p.Data = d
	c.render(w, r, status, "account.html", p)
}

// accountFormError shows the account page again with a form's problems;
// rename maps the service's field names to the form's own (several forms
// on the page have a password field).
func (c *Console) accountFormError(w http.ResponseWriter, r *http.Request, err error, rename map[string]string, values map[string]string) {
	if errors.Is(err, account.ErrUnauthenticated) {
		c.Fail(w, r, err)
		return
	}
	status, msg, fields := formProblems(r, err)
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.FormatInt(httpx.RetryAfterSeconds(httpx.Describe(r, err).RetryAfter), 10))
	}
	for from, to := range rename {
		if f, ok := fields[from]; ok {
			delete(fields, from)
			fields[to] = f
		}
	}
	c.renderAccount(w, r, status, page{Error: msg, Fields: fields, Values: values}, accountData{})
}

func (c *Console) accountPassword(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	f := r.PostForm
	if err := c.Accounts.ChangePassword(r.Context(), principalOf(r), f.Get("current_password"), f.Get("new_password"), clientOf(r)); err != nil {
		c.accountFormError(w, r, err, map[string]string{"password": "current_password"}, nil)
		return
	}
	http.Redirect(w, r, "/account?notice=password-changed", http.StatusSeeOther)
}

func (c *Console) accountTOTPBegin(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	e, err := c.Accounts.BeginTOTP(r.Context(), principalOf(r), r.PostForm.Get("password"), clientOf(r))
	if err != nil {
		c.accountFormError(w, r, err, map[string]string{"password": "totp_password"}, nil)
		return
	}
	c.renderAccount(w, r, http.StatusOK, page{}, accountData{Enrol: e})
}

func (c *Console) accountTOTPConfirm(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	codes, err := c.Accounts.ConfirmTOTP(r.Context(), principalOf(r), strings.TrimSpace(r.PostForm.Get("code")), clientOf(r))
	if err != nil {
		// The secret is not shown again: a wrong code leaves the
		// enrolment pending, and the form to confirm it stays.
		c.accountFormError(w, r, err, nil, nil)
		return
	}
	c.renderAccount(w, r, http.StatusOK, page{Notice: "Two-factor login is on: from now on, logging in asks for a code from your app."},
		accountData{RecoveryCodes: codes})
}

func (c *Console) accountTOTPDisable(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	if err := c.Accounts.DisableTOTP(r.Context(), principalOf(r), r.PostForm.Get("password"), clientOf(r)); err != nil {
		c.accountFormError(w, r, err, map[string]string{"password": "disable_password"}, nil)
		return
	}
	http.Redirect(w, r, "/account?notice=totp-disabled", http.StatusSeeOther)
}

func (c *Console) accountRecoveryCodes(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	codes, err := c.Accounts.RenewRecoveryCodes(r.Context(), principalOf(r), r.PostForm.Get("password"), clientOf(r))
	if err != nil {
		c.accountFormError(w, r, err, map[string]string{"password": "recovery_password"}, nil)
		return
	}
	c.renderAccount(w, r, http.StatusOK, page{Notice: "New recovery codes: the old ones no longer work."}, accountData{RecoveryCodes: codes})
}

func (c *Console) accountKeyCreate(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	f := r.PostForm
	values := map[string]string{"key_name": f.Get("name"), "expires_in_days": f.Get("expires_in_days")}
	days, err := strconv.Atoi(strings.TrimSpace(f.Get("expires_in_days")))
	if err != nil {
		c.accountFormError(w, r, httpx.Unprocessable("invalid_field", "expires_in_days must be a whole number of days, or 0 for a key that never expires",
			httpx.Detail{Field: "expires_in_days", Message: "must be a whole number of days (0: never expires)"}), nil, values)
		return
	}
	k, err := c.Accounts.CreateAPIKey(r.Context(), principalOf(r), f.Get("name"), days, clientOf(r))
	if err != nil {
		c.accountFormError(w, r, err, map[string]string{"name": "key_name"}, values)
		return
	}
	c.renderAccount(w, r, http.StatusOK, page{}, accountData{NewKey: k})
}

func (c *Console) accountKeyRevoke(w http.ResponseWriter, r *http.Request) {
	if err := c.Accounts.RevokeAPIKey(r.Context(), principalOf(r), r.PathValue("id"), clientOf(r)); err != nil {
		c.Fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/account?notice=key-revoked", http.StatusSeeOther)
}

func (c *Console) accountSessionRevoke(w http.ResponseWriter, r *http.Request) {
	pr := principalOf(r)
	id := r.PathValue("id")
	if err := c.Accounts.RevokeSession(r.Context(), pr, id, clientOf(r)); err != nil {
		c.Fail(w, r, err)
		return
	}
	if pr.Session != nil && pr.Session.ID == id {
		// Ending the session this browser uses is logging out.
		httpx.ClearSessionCookie(w, c.TLS)
		http.Redirect(w, r, "/login?notice=logged-out", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/account?notice=session-revoked", http.StatusSeeOther)
}

func (c *Console) accountSessionsRevokeOthers(w http.ResponseWriter, r *http.Request) {
	if _, err := c.Accounts.RevokeOtherSessions(r.Context(), principalOf(r), clientOf(r)); err != nil {
		c.Fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/account?notice=sessions-revoked", http.StatusSeeOther)
}
