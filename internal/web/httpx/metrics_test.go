package httpx

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// scrape returns the text exposition of m.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != 200 {
		t.Fatalf("/metrics status %d", w.Code)
	}
	return w.Body.String()
}

func TestMetricsMiddleware(t *testing.T) {
	tests := []struct {
		name   string
		method string
		target string
		want   []string
		absent []string
	}{
		{name: "matched route uses the pattern", method: "GET", target: "/api/v1/projects/p-123",
			want: []string{
				`sluice_http_requests_total{method="GET",route="GET /api/v1/projects/{p}",status="200"} 1`,
				`sluice_http_request_duration_seconds_count{method="GET",route="GET /api/v1/projects/{p}"} 1`,
			},
			absent: []string{"p-123"}},
		{name: "error status recorded", method: "POST", target: "/api/v1/projects",
			want: []string{`sluice_http_requests_total{method="POST",route="POST /api/v1/projects",status="409"} 1`}},
		{name: "unmatched path bounded", method: "GET", target: "/wp-admin/probe.php",
			want:   []string{`sluice_http_requests_total{method="GET",route="unmatched",status="404"} 1`},
			absent: []string{"wp-admin"}},
		{name: "odd method bounded", method: "BREW", target: "/api/v1/projects",
			want:   []string{`method="OTHER",route="unmatched",status="405"`},
			absent: []string{"BREW"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMetrics()
			mux := http.NewServeMux()
			mux.HandleFunc("GET /api/v1/projects/{p}", func(w http.ResponseWriter, r *http.Request) {
				WriteJSON(w, 200, map[string]string{"id": r.PathValue("p")})
			})
			mux.HandleFunc("POST /api/v1/projects", func(w http.ResponseWriter, r *http.Request) {
				WriteError(w, r, Conflict("name_taken", "taken"))
			})
			// The full chain, so the pattern has to travel back out through
			// middleware that replaces the request's context.
			log, _ := captureLogger()
			h := RequestID(ClientIP(nil)(Logger(log)(m.Middleware(Recover(SecurityHeaders(false)(MaxBody(MaxBodyBytes)(mux)))))))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(tt.method, tt.target, nil))

			out := scrape(t, m)
			for _, s := range tt.want {
				if !strings.Contains(out, s) {
					t.Errorf("exposition lacks %s", s)
				}
			}
			for _, s := range tt.absent {
				if strings.Contains(out, s) {
					t.Errorf("exposition contains %q", s)
				}
			}
			if !strings.Contains(out, "go_goroutines") {
				t.Error("Go collector missing")
			}
		})
	}
}

func TestMetricsRouteSeenFromOutside(t *testing.T) {
	// Metrics outermost: the pattern must still come back through RequestID,
	// ClientIP and Logger, which all copy the request.
	m := NewMetrics()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	log, _ := captureLogger()
	h := m.Middleware(RequestID(ClientIP(nil)(Logger(log)(mux))))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/healthz", nil))
	if out := scrape(t, m); !strings.Contains(out, `sluice_http_requests_total{method="GET",route="GET /healthz",status="200"} 1`) {
		t.Fatalf("route label lost:\n%s", grep(out, "sluice_http"))
	}
}

func TestJobDone(t *testing.T) {
	m := NewMetrics()
	m.JobDone("run_flow", "completed")
	m.JobDone("run_flow", "completed")
	m.JobDone("run_flow", "failed")
	out := scrape(t, m)
	for _, s := range []string{
		`sluice_queue_jobs_total{kind="run_flow",outcome="completed"} 2`,
		`sluice_queue_jobs_total{kind="run_flow",outcome="failed"} 1`,
	} {
		if !strings.Contains(out, s) {
			t.Errorf("exposition lacks %s", s)
		}
	}
}

func TestQueueDepth(t *testing.T) {
	tests := []struct {
		name   string
		f      func(ctx context.Context) (map[string]int64, error)
		want   []string
		absent bool
	}{
		{name: "no func no gauge", f: nil, absent: true},
		{name: "values per state", f: func(ctx context.Context) (map[string]int64, error) {
			if _, ok := ctx.Deadline(); !ok {
				return nil, errors.New("no deadline")
			}
			return map[string]int64{"available": 3, "running": 1}, nil
		}, want: []string{`sluice_queue_depth{state="available"} 3`, `sluice_queue_depth{state="running"} 1`}},
		{name: "error emits nothing", f: func(ctx context.Context) (map[string]int64, error) {
			return map[string]int64{"available": 3}, errors.New("database is locked")
		}, absent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMetrics()
			m.SetQueueDepthFunc(tt.f)
			out := scrape(t, m)
			if tt.absent {
				if strings.Contains(out, "sluice_queue_depth{") {
					t.Fatalf("unexpected gauge:\n%s", grep(out, "sluice_queue_depth"))
				}
				return
			}
			for _, s := range tt.want {
				if !strings.Contains(out, s) {
					t.Errorf("exposition lacks %s:\n%s", s, grep(out, "sluice_queue_depth"))
				}
			}
		})
	}
}

func TestRegistryIsPrivate(t *testing.T) {
	a, b := NewMetrics(), NewMetrics()
	if a.Registry() == b.Registry() {
		t.Fatal("two Metrics share a registry")
	}
	a.JobDone("x", "completed")
	if strings.Contains(scrape(t, b), "sluice_queue_jobs_total{") {
		t.Fatal("counter leaked between registries")
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
