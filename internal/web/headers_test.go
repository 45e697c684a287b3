package web_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/app/apptest"
)

// TestSecurityHeaders: every answer, whatever its route or status, carries
// the browser hardening headers and a request ID; HSTS only under TLS.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	requests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		status      int
	}{
		{name: "health", method: "GET", path: "/healthz", status: 200},
		{name: "readiness", method: "GET", path: "/readyz", status: 200},
		{name: "metrics", method: "GET", path: "/metrics", status: 200},
		{name: "api anonymous", method: "GET", path: "/api/v1/me", status: 401},
		{name: "api not found", method: "GET", path: "/api/v1/nope", status: 404},
		{name: "page not found", method: "GET", path: "/no-such-page", status: 404},
		{name: "failed login", method: "POST", path: "/api/v1/auth/login", contentType: "application/json", body: `{"email":"x@example.com","password":"Wrong-Guess-Number-1"}`, status: 401},
		{name: "malformed json", method: "POST", path: "/api/v1/auth/login", contentType: "application/json", body: `{`, status: 400},
		{name: "wrong content type", method: "POST", path: "/api/v1/auth/login", contentType: "text/plain", body: `{}`, status: 415},
		{name: "oversized", method: "POST", path: "/api/v1/auth/login", contentType: "application/json", body: `{"email":"` + strings.Repeat("a", 1<<20) + `"}`, status: 413},
		{name: "setup done", method: "POST", path: "/api/v1/setup", contentType: "application/json", body: `{"token":"x","email":"x@example.com","password":"Wrong-Guess-Number-1","name":"x"}`, status: 409},
		{name: "login page", method: "GET", path: "/login", status: 200},
		{name: "console redirect", method: "GET", path: "/", status: 303},
		{name: "stylesheet", method: "GET", path: "/static/console.css", status: 200},
	}
	for _, mode := range []struct {
		name string
		tls  bool
	}{{"plain", false}, {"tls", true}} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			inst, _ := startAdmin(t, apptest.Options{TLS: mode.tls})
			ids := map[string]bool{}
			for _, rq := range requests {
				req, err := http.NewRequest(rq.method, inst.URL+rq.path, strings.NewReader(rq.body))
				if err != nil {
					t.Fatal(err)
				}
				if rq.contentType != "" {
					req.Header.Set("Content-Type", rq.contentType)
				}
				r := inst.NewClient().Send(t, req)
				if r.Status != rq.status {
					t.Fatalf("%s: status %d, want %d; %s", rq.name, r.Status, rq.status, r.Body)
				}
				h := r.Header
				csp := h.Get("Content-Security-Policy")
				for _, want := range []string{"default-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
					if !strings.Contains(csp, want) {
						t.Errorf("%s: Content-Security-Policy %q lacks %q", rq.name, csp, want)
					}
				}
				if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
					t.Errorf("%s: Content-Security-Policy allows inline or eval: %q", rq.name, csp)
				}
				if got := h.Get("X-Frame-Options"); got != "DENY" {
					t.Errorf("%s: X-Frame-Options %q", rq.name, got)
				}
				if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
					t.Errorf("%s: X-Content-Type-Options %q", rq.name, got)
				}
				if got := h.Get("Referrer-Policy"); got != "no-referrer" && got != "same-origin" {
					t.Errorf("%s: Referrer-Policy %q, want no-referrer or same-origin", rq.name, got)
				}
				hsts := h.Get("Strict-Transport-Security")
				if mode.tls && !strings.HasPrefix(hsts, "max-age=") {
					t.Errorf("%s: Strict-Transport-Security %q under TLS", rq.name, hsts)
				}
				if !mode.tls && hsts != "" {
					t.Errorf("%s: Strict-Transport-Security %q over plain HTTP", rq.name, hsts)
				}
				id := h.Get("X-Request-Id")
				if len(id) < 16 || ids[id] {
					t.Errorf("%s: X-Request-Id %q missing, short or repeated", rq.name, id)
				}
				ids[id] = true
				if strings.HasPrefix(rq.path, "/api/") && h.Get("Cache-Control") != "no-store" {
					t.Errorf("%s: API answer Cache-Control %q, want no-store", rq.name, h.Get("Cache-Control"))
				}
			}
		})
	}
}

// TestTLSVersions: a TLS instance refuses TLS 1.0 and 1.1 and speaks 1.2
// and 1.3, preferring 1.3. A permissive server proves the old-version
// client itself works, so its failure against Sluice is Sluice's refusal.
func TestTLSVersions(t *testing.T) {
	t.Parallel()
	inst := apptest.Start(t, apptest.Options{TLS: true})
	u, err := url.Parse(inst.URL)
	if err != nil {
		t.Fatal(err)
	}
	permissive := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	permissive.TLS = &tls.Config{MinVersion: tls.VersionTLS10}
	permissive.StartTLS()
	t.Cleanup(permissive.Close)
	tests := []struct {
		name     string
		min, max uint16
		want     uint16 // 0: refused
	}{
		{name: "tls 1.0", min: tls.VersionTLS10, max: tls.VersionTLS10},
		{name: "tls 1.1", min: tls.VersionTLS10, max: tls.VersionTLS11},
		{name: "tls 1.2", min: tls.VersionTLS12, max: tls.VersionTLS12, want: tls.VersionTLS12},
		{name: "tls 1.3", min: tls.VersionTLS13, max: tls.VersionTLS13, want: tls.VersionTLS13},
		{name: "client offers all", min: tls.VersionTLS10, max: tls.VersionTLS13, want: tls.VersionTLS13},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := inst.TLSClientConfig()
			cfg.MinVersion, cfg.MaxVersion = tt.min, tt.max
			conn, err := tls.Dial("tcp", u.Host, cfg)
			if tt.want == 0 {
				if err == nil {
					conn.Close()
					t.Fatalf("handshake at %s succeeded", tt.name)
				}
				if !strings.Contains(err.Error(), "protocol version") {
					t.Fatalf("refused for another reason than the version: %v", err)
				}
				// The control: the same client works where the version is allowed.
				ctl := &tls.Config{InsecureSkipVerify: true, MinVersion: tt.min, MaxVersion: tt.max} //nolint:gosec // a throwaway local test server
				c, err := tls.Dial("tcp", permissive.Listener.Addr().String(), ctl)
				if err != nil {
					t.Fatalf("control: the %s client cannot connect to a permissive server: %v", tt.name, err)
				}
				if v := c.ConnectionState().Version; v != tt.max {
					t.Fatalf("control negotiated %x, want %x", v, tt.max)
				}
				c.Close()
				return
			}
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			defer conn.Close()
			if v := conn.ConnectionState().Version; v != tt.want {
				t.Fatalf("negotiated %x, want %x", v, tt.want)
			}
		})
	}
}
