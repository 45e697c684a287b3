package consolelog

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func js(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestRedactPath(t *testing.T) {
	rec := map[string]any{
		"customer": map[string]any{"email": "a@b", "name": "Ada"},
		"items":    []any{map[string]any{"card": "4111", "sku": "A"}, map[string]any{"card": "5500", "sku": "B"}},
		"headers":  map[string]any{"X-Api-Key": "k", "Accept": "json"},
	}
	before := js(rec)
	for _, tc := range []struct{ path, want string }{
		{"customer.email", `{"customer":{"email":"[REDACTED]","name":"Ada"}`},
		{"$.items[*].card", `"items":[{"card":"[REDACTED]","sku":"A"},{"card":"[REDACTED]","sku":"B"}]`},
		{".items[1].card", `"items":[{"card":"4111","sku":"A"},{"card":"[REDACTED]","sku":"B"}]`},
		{"headers.x-api-key", `"headers":{"Accept":"json","X-Api-Key":"[REDACTED]"}`},
		{"*.name", `"customer":{"email":"a@b","name":"[REDACTED]"}`},
		{"missing.path", `"customer":{"email":"a@b","name":"Ada"}`},
	} {
		got := js(redactPath(rec, splitPath(tc.path)))
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s: %s, want it to hold %s", tc.path, got, tc.want)
		}
	}
	if js(rec) != before {
		t.Fatal("redacting changed the record in flight")
	}
	page := map[string]any{"data": []any{rec}}
	if got := js(redactPathAnywhere(page, splitPath("customer.email"))); !strings.Contains(got, `"email":"[REDACTED]"`) {
		t.Errorf("a record's path inside a page body: %s", got)
	}
}

func TestSecretNames(t *testing.T) {
	for _, n := range []string{"access_token", "client_secret", "Password", "X-Signature", "api_key", "oauth_nonce", "code", "refresh_token", "Authorization", "X-Auth-Token", "session_id"} {
		if !secretName(n) {
			t.Errorf("%q is not taken for a secret", n)
		}
	}
	for _, n := range []string{"status", "qty", "customer", "page", "per_page", "email"} {
		if secretName(n) {
			t.Errorf("%q is taken for a secret", n)
		}
	}
	h := redactHeader(http.Header{"Authorization": {"Bearer x"}, "Cookie": {"a=b"}, "Set-Cookie": {"s=1"}, "Proxy-Authorization": {"x"}, "Accept": {"json"}})
	want := map[string]any{"Authorization": Redacted, "Cookie": Redacted, "Set-Cookie": Redacted, "Proxy-Authorization": Redacted, "Accept": "json"}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("headers %v", h)
	}
	q := redactValues(url.Values{"api_key": {"k"}, "page": {"2"}, "oauth_signature": {"s"}})
	if q["api_key"] != Redacted || q["oauth_signature"] != Redacted || q["page"] != "2" {
		t.Errorf("params %v", q)
	}
	if got := redactNames(map[string]any{"a": []any{map[string]any{"token": "t", "n": 1}}}); js(got) != `{"a":[{"n":1,"token":"[REDACTED]"}]}` {
		t.Errorf("nested names %s", js(got))
	}
}

func TestActive(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		raw  string
		want bool
	}{
		{`{"enabled":true,"capture":["records"],"until":"2026-11-29T13:00:00Z"}`, true},
		{`{"enabled":true,"capture":["records"],"until":"2026-11-29T12:00:00Z"}`, false},
		{`{"enabled":true,"capture":["records"]}`, true},
		{`{"enabled":true,"capture":[]}`, false},
		{`{"enabled":false,"capture":["records"]}`, false},
		{``, false},
		{`not json`, false},
	} {
		if _, got := Active(tc.raw, now); got != tc.want {
			t.Errorf("Active(%s) = %v, want %v", tc.raw, got, tc.want)
		}
	}
}

func TestExchangeHeaderPaths(t *testing.T) {
	s := &Service{}
	c := s.Begin(nil, Settings{Capture: []string{KindHeaders}, Sensitive: []string{"headers.X-Tenant"}})
	got := c.headerPaths(redactHeader(http.Header{"X-Tenant": {"acme"}, "Accept": {"json"}}))
	if got["X-Tenant"] != Redacted || got["Accept"] != "json" {
		t.Errorf("headers %v", got)
	}
}
