package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

// Accounts most tests use. The passwords pass the policy (12+ characters,
// not common, not containing the email's name).
const (
	adminEmail = "ann@example.com"
	adminPW    = "Correct-Horse-Battery-1"
	userEmail  = "bob@example.com"
	userPW     = "Tidal-Lantern-Quarry-42"
	otherEmail = "cyd@example.com"
	otherPW    = "Velvet-Compass-Orchid-9"
)

// eachDialect runs fn as a parallel subtest on every dialect storetest
// offers (SQLite always, PostgreSQL when it answers).
func eachDialect(t *testing.T, fn func(t *testing.T, d store.Dialect)) {
	t.Helper()
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}

// startAdmin starts an instance and sets it up with the admin account.
func startAdmin(t *testing.T, o apptest.Options) (*apptest.Instance, *apptest.Client) {
	t.Helper()
	inst := apptest.Start(t, o)
	return inst, inst.Setup(t, adminEmail, adminPW)
}

// startWithUser is startAdmin plus a standard user (bob), returning bob's
// user ID.
func startWithUser(t *testing.T, o apptest.Options) (*apptest.Instance, *apptest.Client, string) {
	t.Helper()
	inst, admin := startAdmin(t, o)
	return inst, admin, inst.CreateUser(t, admin, userEmail, userPW, false)
}

// wantStatus fails the test unless r has the status.
func wantStatus(t *testing.T, r *apptest.Response, status int, what string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: status %d, want %d; body %s", what, r.Status, status, r.Body)
	}
}

// wantError fails the test unless r is an error answer in the format of
// DESIGN §6 with the status and (when not empty) the code.
func wantError(t *testing.T, r *apptest.Response, status int, code, what string) {
	t.Helper()
	wantStatus(t, r, status, what)
	checkErrorShape(t, r, what)
	if code != "" && r.ErrorCode() != code {
		t.Fatalf("%s: error code %q, want %q; body %s", what, r.ErrorCode(), code, r.Body)
	}
}

// checkErrorShape fails the test unless r's body is exactly
// {"error": {"code": "...", "message": "...", "details"?: [...]}}.
func checkErrorShape(t *testing.T, r *apptest.Response, what string) {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: error answer has Content-Type %q; body %s", what, ct, r.Body)
	}
	var body struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Details []struct {
				Field   string `json:"field"`
				Message string `json:"message"`
			} `json:"details"`
		} `json:"error"`
	}
	dec := json.NewDecoder(strings.NewReader(string(r.Body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Error == nil || body.Error.Code == "" || body.Error.Message == "" {
		t.Fatalf("%s: error answer is not {\"error\":{\"code\",\"message\"}}: %v; body %s", what, err, r.Body)
	}
}

// errorField is the field named by the first detail of an error answer.
func errorField(r *apptest.Response) string {
	d, _ := r.Get("error.details").([]any)
	if len(d) == 0 {
		return ""
	}
	m, _ := d[0].(map[string]any)
	s, _ := m["field"].(string)
	return s
}

// snapshot is the state bad requests must leave alone: row counts and the
// content of every user row.
type snapshot struct {
	Users, Sessions, APIKeys, RecoveryCodes, AuditEvents int
	UserRows                                             string
}

// snap reads the store directly, bypassing the API under test.
func snap(t *testing.T, inst *apptest.Instance) snapshot {
	t.Helper()
	ctx := context.Background()
	db := inst.App.Store.WriteDB()
	var s snapshot
	for table, dst := range map[string]*int{"sessions": &s.Sessions, "api_keys": &s.APIKeys,
		"recovery_codes": &s.RecoveryCodes, "audit_events": &s.AuditEvents} {
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(dst); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
	}
	n, err := inst.App.Store.Reader().CountUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Users = n
	users, err := inst.App.Store.Reader().ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]string, 0, len(users))
	for _, u := range users {
		rows = append(rows, fmt.Sprintf("%+v", *u))
	}
	sort.Strings(rows)
	s.UserRows = strings.Join(rows, "\n")
	return s
}

// sameState fails the test when the store changed since before.
func sameState(t *testing.T, inst *apptest.Instance, before snapshot, what string) {
	t.Helper()
	if after := snap(t, inst); after != before {
		t.Fatalf("%s changed the store:\nbefore %+v\nafter  %+v", what, before, after)
	}
}

// userByEmail reads a user row straight from the store.
func userByEmail(t *testing.T, inst *apptest.Instance, email string) *store.User {
	t.Helper()
	u, err := inst.App.Store.Reader().UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatalf("load %s: %v", email, err)
	}
	return u
}

// setCookie is the cookie named name that r sets, or nil.
func setCookie(r *apptest.Response, name string) *http.Cookie {
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// sessionCookie is the session cookie value a client holds.
func sessionCookie(c *apptest.Client) string {
	return c.Cookie(httpx.SessionCookieName(strings.HasPrefix(c.Base, "https:")))
}

// clientWithCookie is a fresh client whose jar holds the session cookie
// value, like a browser that was handed (or kept) that cookie.
func clientWithCookie(t *testing.T, inst *apptest.Instance, value string) *apptest.Client {
	t.Helper()
	c := inst.NewClient()
	u, err := url.Parse(inst.URL)
	if err != nil {
		t.Fatal(err)
	}
	tls := u.Scheme == "https"
	c.HTTP.Jar.SetCookies(u, []*http.Cookie{{Name: httpx.SessionCookieName(tls), Value: value, Path: "/", Secure: tls}})
	return c
}

// withoutCSRF returns a copy of c (sharing its cookies) that sends no CSRF
// token.
func withoutCSRF(c *apptest.Client) *apptest.Client {
	cp := *c
	cp.CSRF = ""
	return &cp
}

// login posts credentials with a fresh client and returns the answer and
// the client (logged in when the answer is 200).
func login(t *testing.T, inst *apptest.Instance, email, password, code string) (*apptest.Response, *apptest.Client) {
	t.Helper()
	c := inst.NewClient()
	body := map[string]any{"email": email, "password": password}
	if code != "" {
		body["totp"] = code
	}
	r := c.Do(t, "POST", "/api/v1/auth/login", body)
	c.CSRF = r.String("csrf_token")
	return r, c
}

// totpCode is the code an authenticator app shows for secret at the
// instance's current time.
func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// postStatus posts JSON as c would and returns only the status. It calls
// no t.Fatal, so it may run on goroutines other than the test's.
func postStatus(c *apptest.Client, method, path string, body any) (int, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequest(method, c.Base+path, bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", c.Base)
	if c.CSRF != "" {
		req.Header.Set("X-CSRF-Token", c.CSRF)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}
