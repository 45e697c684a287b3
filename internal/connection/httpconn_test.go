package connection

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/secrets"
	"github.com/sluice-dev/sluice/internal/store"
)

// TestHTTPConnLimits: the limit settings are checked; every opening of a
// connection shares one Limits until the connection changes.
func TestHTTPConnLimits(t *testing.T) {
	var ps problems
	out := checkObject("settings.", Kinds["http"].Settings, map[string]any{"base_url": "https://api.example.com",
		"rate_limit": float64(20), "burst": float64(5), "concurrency": float64(3)}, &ps)
	if len(ps) != 0 || out["rate_limit"] != 20 || out["concurrency"] != 3 {
		t.Fatalf("settings %v, problems %v", out, ps)
	}
	ps = nil
	checkObject("settings.", Kinds["http"].Settings, map[string]any{"base_url": "https://api.example.com", "rate_limit": -1, "concurrency": 1.5}, &ps)
	if len(ps) != 2 {
		t.Fatalf("bad limits gave %v", ps)
	}

	v := &Connection{Row: &store.Connection{ID: "c1", Kind: "http"}, Settings: map[string]any{"base_url": "https://api.example.com", "concurrency": float64(3)}}
	var r limitsRegistry
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := r.get("c1", limitsKey(v, at), v)
	if b := r.get("c1", limitsKey(v, at), v); a != b || a.Concurrency() != 3 {
		t.Fatalf("a second opening got its own limits (%p, %p) or the wrong cap %d", a, b, a.Concurrency())
	}
	v.Settings["concurrency"] = float64(5)
	if c := r.get("c1", limitsKey(v, at.Add(time.Second)), v); c == a || c.Concurrency() != 5 {
		t.Fatalf("a changed connection kept its old limits")
	}
	if other := r.get("c2", limitsKey(v, at), v); other == a {
		t.Fatal("two connections share limits")
	}
}

// TestHTTPConnRedacts: the connector's Conn redacts the connection's
// secrets and names the auth's query parameter.
func TestHTTPConnRedacts(t *testing.T) {
	v := &Connection{Row: &store.Connection{ID: "c1", Kind: "http"},
		Settings: map[string]any{"base_url": "https://api.example.com", "timeout": "7s", "headers": map[string]any{"X-Tenant": "acme"}},
		Auth:     map[string]any{"type": "api_key", "in": "query", "name": "apikey"}}
	sec := Secrets{"auth.api_key": secrets.NewValue("Planted-Key-123")}
	c := httpConn(v, sec, http.DefaultClient, nil)
	if c.Timeout != 7*time.Second || c.Headers["X-Tenant"] != "acme" || c.BaseURL != "https://api.example.com" {
		t.Fatalf("conn %+v", c)
	}
	if len(c.SecretQuery) != 1 || c.SecretQuery[0] != "apikey" {
		t.Fatalf("SecretQuery %v", c.SecretQuery)
	}
	if got := c.Redact("the server said: bad key Planted-Key-123"); strings.Contains(got, "Planted-Key") {
		t.Fatalf("Redact left the secret: %q", got)
	}
}
