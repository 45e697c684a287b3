package web_test

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

// badBody turns a valid request body into a bad request. Every endpoint
// gets a body that would succeed (and change something) if the flaw were
// overlooked, so "changes nothing" proves the request was refused whole.
type badBody struct {
	name        string
	contentType string
	body        func(valid map[string]any, wrongType map[string]any) []byte
	status      int
	code        string
}

var badBodies = []badBody{
	{name: "malformed: cut short", contentType: "application/json", status: 400, code: "malformed_json",
		body: func(v, _ map[string]any) []byte { b := mustJSON(v); return b[:len(b)-1] }},
	{name: "malformed: trailing comma", contentType: "application/json", status: 400, code: "malformed_json",
		body: func(v, _ map[string]any) []byte { b := mustJSON(v); return append(b[:len(b)-1], ",}"...) }},
	{name: "malformed: single quotes", contentType: "application/json", status: 400, code: "malformed_json",
		body: func(v, _ map[string]any) []byte { return bytes.ReplaceAll(mustJSON(v), []byte(`"`), []byte(`'`)) }},
	{name: "trailing data", contentType: "application/json", status: 400, code: "malformed_json",
		body: func(v, _ map[string]any) []byte { return append(mustJSON(v), `{}`...) }},
	{name: "text/plain", contentType: "text/plain", status: 415, code: "unsupported_media_type",
		body: func(v, _ map[string]any) []byte { return mustJSON(v) }},
	{name: "form", contentType: "application/x-www-form-urlencoded", status: 415, code: "unsupported_media_type",
		body: func(v, _ map[string]any) []byte { return []byte(formOf(v)) }},
	{name: "multipart", contentType: "multipart/form-data; boundary=x", status: 415, code: "unsupported_media_type",
		body: func(v, _ map[string]any) []byte { return mustJSON(v) }},
	{name: "no content type", contentType: "", status: 415, code: "unsupported_media_type",
		body: func(v, _ map[string]any) []byte { return mustJSON(v) }},
	{name: "json in latin1", contentType: "application/json; charset=iso-8859-1", status: 415, code: "unsupported_media_type",
		body: func(v, _ map[string]any) []byte { return mustJSON(v) }},
	{name: "oversized", contentType: "application/json", status: 413, code: "body_too_large",
		body: func(v, _ map[string]any) []byte {
			return append(mustJSON(v), bytes.Repeat([]byte(" "), int(httpx.MaxBodyBytes))...)
		}},
	{name: "unknown field", contentType: "application/json", status: 400, code: "unknown_field",
		body: func(v, _ map[string]any) []byte { return withField(v, "pasword", "x") }},
	{name: "wrong type", contentType: "application/json", status: 400, code: "invalid_field",
		body: func(v, wrong map[string]any) []byte {
			m := map[string]any{}
			for k, x := range v {
				m[k] = x
			}
			for k, x := range wrong {
				m[k] = x
			}
			return mustJSON(m)
		}},
	{name: "array instead of object", contentType: "application/json", status: 400, code: "invalid_field",
		body: func(v, _ map[string]any) []byte { return append(append([]byte("["), mustJSON(v)...), ']') }},
	{name: "nested deeper than 32", contentType: "application/json", status: 400, code: "json_too_deep",
		body: func(v, _ map[string]any) []byte {
			return withRaw(v, "extra", strings.Repeat("[", 40)+strings.Repeat("]", 40))
		}},
	{name: "empty body", contentType: "application/json", status: 400, code: "empty_body",
		body: func(map[string]any, map[string]any) []byte { return nil }},
	{name: "whitespace only", contentType: "application/json", status: 400, code: "empty_body",
		body: func(map[string]any, map[string]any) []byte { return []byte(" \n\t ") }},
}

// TestBadInput sends every bad body to every endpoint that takes one. Each
// gets its 4xx in the error format and leaves users, sessions, API keys,
// recovery codes and the audit log as they were.
func TestBadInput(t *testing.T) {
	t.Parallel()
	inst := apptest.Start(t, apptest.Options{})
	token := inst.SetupToken(t)

	// Setup first, while it is still open.
	run := func(endpoint, method, path string, c *apptest.Client, valid, wrongType map[string]any) {
		t.Helper()
		for _, bb := range badBodies {
			what := endpoint + ": " + bb.name
			before := snap(t, inst)
			r := c.Raw(t, method, path, bb.contentType, bb.body(valid, wrongType))
			wantError(t, r, bb.status, bb.code, what)
			sameState(t, inst, before, what)
		}
	}
	run("setup", "POST", "/api/v1/setup", inst.NewClient(),
		map[string]any{"token": token, "email": adminEmail, "password": adminPW, "name": "Ann"},
		map[string]any{"email": 5})
	if n := snap(t, inst).Users; n != 0 {
		t.Fatalf("%d users after bad setups", n)
	}

	admin := inst.Setup(t, adminEmail, adminPW)
	bob := inst.CreateUser(t, admin, userEmail, userPW, false)
	_, bobClient := login(t, inst, userEmail, userPW, "")

	endpoints := []struct {
		name         string
		method, path string
		client       *apptest.Client
		valid, wrong map[string]any
	}{
		{name: "login", method: "POST", path: "/api/v1/auth/login", client: inst.NewClient(),
			valid: map[string]any{"email": userEmail, "password": userPW}, wrong: map[string]any{"password": true}},
		{name: "create user", method: "POST", path: "/api/v1/users", client: admin,
			valid: map[string]any{"email": "new@example.com", "password": otherPW, "name": "New"}, wrong: map[string]any{"admin": "yes"}},
		{name: "create api key", method: "POST", path: "/api/v1/me/api-keys", client: admin,
			valid: map[string]any{"name": "ci", "expires_in_days": 1}, wrong: map[string]any{"expires_in_days": "1"}},
		{name: "change password", method: "POST", path: "/api/v1/me/password", client: bobClient,
			valid: map[string]any{"current_password": userPW, "new_password": "Granite-Meadow-Piano-77"}, wrong: map[string]any{"new_password": 123456789012345}},
		{name: "enrol totp", method: "POST", path: "/api/v1/me/totp", client: bobClient,
			valid: map[string]any{"password": userPW}, wrong: map[string]any{"password": []string{userPW}}},
		// Last: its valid body ends bob's sessions.
		{name: "disable user", method: "PATCH", path: "/api/v1/users/" + bob, client: admin,
			valid: map[string]any{"disabled": true}, wrong: map[string]any{"disabled": "true"}},
	}
	for _, e := range endpoints {
		run(e.name, e.method, e.path, e.client, e.valid, e.wrong)
	}
	// The console's form posts are bounded too: a login form padded past
	// the cap is refused, although its credentials are right.
	for _, path := range []string{"/login", "/setup"} {
		before := snap(t, inst)
		form := url.Values{"email": {userEmail}, "password": {userPW}, "pad": {strings.Repeat("x", int(httpx.MaxBodyBytes))}}
		r := inst.NewClient().Form(t, path, form)
		if r.Status != 413 {
			t.Fatalf("oversized form to %s: status %d, want 413", path, r.Status)
		}
		sameState(t, inst, before, "oversized form to "+path)
	}

	// The valid bodies really were valid: the same requests succeed (in
	// this order).
	for _, e := range endpoints {
		if e.name == "enrol totp" {
			continue // changes only a pending secret, which snap does not see
		}
		before := snap(t, inst)
		r := e.client.Raw(t, e.method, e.path, "application/json", mustJSON(e.valid))
		if r.Status >= 300 {
			t.Fatalf("%s with the valid body: %d %s", e.name, r.Status, r.Body)
		}
		if snap(t, inst) == before {
			t.Fatalf("%s with the valid body changed nothing, so the bad-input cases prove nothing", e.name)
		}
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// withField adds a field to an object's JSON.
func withField(v map[string]any, name string, value any) []byte {
	return withRaw(v, name, string(mustJSON(value)))
}

// withRaw adds a field whose value is raw JSON text.
func withRaw(v map[string]any, name, raw string) []byte {
	b := mustJSON(v)
	return append(b[:len(b)-1], []byte(`,"`+name+`":`+raw+`}`)...)
}

func formOf(v map[string]any) string {
	f := url.Values{}
	for k, x := range v {
		f.Set(k, strings.Trim(string(mustJSON(x)), `"`))
	}
	return f.Encode()
}
