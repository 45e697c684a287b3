package httpx

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/netguard"
)

func TestSecurityHeaders(t *testing.T) {
	always := map[string]string{
		"Content-Security-Policy":    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
		"X-Frame-Options":            "DENY",
		"X-Content-Type-Options":     "nosniff",
		"Referrer-Policy":            "same-origin",
		"Cross-Origin-Opener-Policy": "same-origin",
	}
	tests := []struct {
		name        string
		tls         bool
		path        string
		wantHSTS    string
		wantNoStore bool
	}{
		{name: "plain console page", tls: false, path: "/", wantHSTS: ""},
		{name: "tls console page", tls: true, path: "/projects", wantHSTS: "max-age=63072000; includeSubDomains"},
		{name: "plain api", tls: false, path: "/api/v1/me", wantNoStore: true},
		{name: "tls api", tls: true, path: "/api/v1/me", wantHSTS: "max-age=63072000; includeSubDomains", wantNoStore: true},
		{name: "download link", tls: true, path: "/downloads/abc", wantHSTS: "max-age=63072000; includeSubDomains", wantNoStore: true},
		{name: "api lookalike is cacheable", tls: false, path: "/apikeys.css"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := SecurityHeaders(tt.tls)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", tt.path, nil))
			for k, v := range always {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if w.Header().Get("Permissions-Policy") == "" {
				t.Error("Permissions-Policy missing")
			}
			if got := w.Header().Get("Strict-Transport-Security"); got != tt.wantHSTS {
				t.Errorf("HSTS = %q, want %q", got, tt.wantHSTS)
			}
			if got := w.Header().Get("Cache-Control") == "no-store"; got != tt.wantNoStore {
				t.Errorf("Cache-Control no-store = %v, want %v", got, tt.wantNoStore)
			}
		})
	}
}

func TestRecover(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus int
		wantStack  bool
	}{
		{name: "panic with string", handler: func(w http.ResponseWriter, r *http.Request) { panic("db exploded: password=hunter2") },
			wantStatus: 500, wantStack: true},
		{name: "panic with error", handler: func(w http.ResponseWriter, r *http.Request) { panic(errors.New("nil map")) },
			wantStatus: 500, wantStack: true},
		{name: "no panic passes through", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) },
			wantStatus: http.StatusTeapot},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, logs := captureLogger()
			h := RequestID(Logger(log)(Recover(tt.handler)))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/x", nil))
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", w.Code, tt.wantStatus)
			}
			hasStack := strings.Contains(logs.String(), `"level":"ERROR"`) && strings.Contains(logs.String(), `"stack":"goroutine`)
			if hasStack != tt.wantStack {
				t.Fatalf("stack logged = %v, want %v; log: %s", hasStack, tt.wantStack, logs)
			}
			if !tt.wantStack {
				return
			}
			var got errorResponse
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.Error.Code != "internal" || strings.Contains(w.Body.String(), "hunter2") || strings.Contains(w.Body.String(), "panic") {
				t.Fatalf("body = %s", w.Body)
			}
			// The access line still shows the 500 the client got.
			if !strings.Contains(logs.String(), `"msg":"http request"`) || !strings.Contains(logs.String(), `"status":500`) {
				t.Fatalf("access log lacks status 500: %s", logs)
			}
		})
	}
}

func TestRecoverRepanicsAbortHandler(t *testing.T) {
	h := Recover(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) }))
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler", v)
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	t.Fatal("panic was swallowed")
}

func TestRecoverAfterResponseStartedAborts(t *testing.T) {
	log, logs := captureLogger()
	h := Logger(log)(Recover(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("partial"))
		panic("late")
	})))
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler so net/http drops the connection", v)
		}
		if !strings.Contains(logs.String(), "panic after the response started") {
			t.Fatalf("panic not logged: %s", logs)
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
}

func TestRequestID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		var fromCtx string
		h := RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fromCtx = RequestIDFrom(r.Context()) }))
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("X-Request-Id", "attacker-chosen")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		id := w.Header().Get("X-Request-Id")
		if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Fatalf("id %q is not 128-bit hex", id)
		}
		if id != fromCtx {
			t.Fatalf("header %q != context %q", id, fromCtx)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
	if got := RequestIDFrom(httptest.NewRequest("GET", "/", nil).Context()); got != "" {
		t.Fatalf("RequestIDFrom outside middleware = %q", got)
	}
}

func TestLoggerNeverLogsSecrets(t *testing.T) {
	tests := []struct {
		name      string
		pattern   string
		target    string
		wantPath  string
		wantRoute string
	}{
		{name: "query and headers", pattern: "GET /api/v1/projects/{p}", target: "/api/v1/projects/p1?token=SECRET&api_key=SECRET",
			wantPath: "/api/v1/projects/p1", wantRoute: "GET /api/v1/projects/{p}"},
		{name: "download token in path", pattern: "GET /downloads/{token}", target: "/downloads/SECRET?x=1",
			wantPath: "/downloads/[REDACTED]", wantRoute: "GET /downloads/{token}"},
		{name: "rest wildcard", pattern: "GET /hooks/{p}/{secret...}", target: "/hooks/p1/SECRET/SECRET",
			wantPath: "/hooks/p1/[REDACTED]", wantRoute: "GET /hooks/{p}/{secret...}"},
		{name: "unmatched", pattern: "GET /x", target: "/nope?token=SECRET", wantPath: "/nope", wantRoute: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, logs := captureLogger()
			mux := http.NewServeMux()
			mux.HandleFunc(tt.pattern, func(w http.ResponseWriter, r *http.Request) {
				LoggerFrom(r.Context()).Info("inside handler")
				_, _ = io.WriteString(w, "hello")
			})
			tp, _ := netguard.ParseTrustedProxies("")
			h := RequestID(ClientIP(tp)(Logger(log)(mux)))
			r := httptest.NewRequest("GET", tt.target, strings.NewReader(`{"password":"SECRET"}`))
			r.Header.Set("Authorization", "Bearer SECRET")
			r.Header.Set("Cookie", "sluice_session=SECRET")
			r.RemoteAddr = "198.51.100.7:4444"
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)

			out := logs.String()
			if strings.Contains(out, "SECRET") {
				t.Fatalf("log leaks a secret:\n%s", out)
			}
			line := accessLine(t, out)
			id := w.Header().Get("X-Request-Id")
			want := map[string]any{
				"method": "GET", "path": tt.wantPath, "route": tt.wantRoute, "status": float64(w.Code),
				"bytes": float64(w.Body.Len()), "client_ip": "198.51.100.7", "request_id": id,
			}
			for k, v := range want {
				if line[k] != v {
					t.Errorf("%s = %v, want %v", k, line[k], v)
				}
			}
			if _, ok := line["duration_ms"].(float64); !ok {
				t.Errorf("duration_ms missing: %v", line)
			}
			if tt.wantRoute != "" && !strings.Contains(out, `"msg":"inside handler","request_id":"`+id) {
				t.Errorf("handler logger lacks request_id: %s", out)
			}
		})
	}
}

// accessLine returns the decoded "http request" log record.
func accessLine(t *testing.T, out string) map[string]any {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if m["msg"] == "http request" {
			return m
		}
	}
	t.Fatalf("no access line in %s", out)
	return nil
}

func TestLoggerFromFallback(t *testing.T) {
	if LoggerFrom(httptest.NewRequest("GET", "/", nil).Context()) == nil {
		t.Fatal("LoggerFrom returned nil outside the middleware")
	}
}

func TestClientIPMiddleware(t *testing.T) {
	tp, err := netguard.ParseTrustedProxies("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		tp     *netguard.TrustedProxies
		remote string
		xff    string
		want   string
	}{
		{name: "nil trusts nobody", tp: nil, remote: "10.0.0.1:1", xff: "198.51.100.7", want: "10.0.0.1"},
		{name: "spoof from untrusted peer ignored", tp: tp, remote: "203.0.113.9:1", xff: "198.51.100.7", want: "203.0.113.9"},
		{name: "trusted proxy believed", tp: tp, remote: "10.0.0.1:1", xff: "198.51.100.7", want: "198.51.100.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got netip.Addr
			var gotString string
			h := ClientIP(tt.tp)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = ClientIPFrom(r.Context())
				gotString = ClientIPStringFrom(r.Context())
			}))
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			r.Header.Set("X-Forwarded-For", tt.xff)
			h.ServeHTTP(httptest.NewRecorder(), r)
			if got != netip.MustParseAddr(tt.want) || gotString != tt.want {
				t.Fatalf("got %v / %q, want %s", got, gotString, tt.want)
			}
		})
	}
	if s := ClientIPStringFrom(httptest.NewRequest("GET", "/", nil).Context()); s != "" {
		t.Fatalf("ClientIPStringFrom outside middleware = %q", s)
	}
}

func TestMaxBody(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantStatus int
	}{
		{name: "under the cap", body: "12345", wantStatus: 200},
		{name: "at the cap", body: "1234567890", wantStatus: 200},
		{name: "over the cap", body: "12345678901", wantStatus: 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := MaxBody(10)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if _, err := io.ReadAll(r.Body); err != nil {
					WriteError(w, r, err)
				}
			}))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("POST", "/", strings.NewReader(tt.body)))
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d (%s)", w.Code, tt.wantStatus, w.Body)
			}
		})
	}
}

// The recorder must not hide optional abilities of the writer beneath it.
func TestResponseRecorderPassesThrough(t *testing.T) {
	log, _ := captureLogger()
	h := Logger(log)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(http.Flusher); !ok {
			t.Error("wrapper hides http.Flusher")
		}
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("ResponseController.Flush: %v", err)
		}
		_, _ = io.Copy(w, strings.NewReader("streamed")) // exercises ReadFrom
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if !w.Flushed || w.Body.String() != "streamed" {
		t.Fatalf("flushed=%v body=%q", w.Flushed, w.Body)
	}
}
