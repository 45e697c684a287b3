package web_test

import (
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/store"
)

// TestHealthReadyMetrics: liveness, readiness with its checks, and the
// Prometheus metrics the issue names.
func TestHealthReadyMetrics(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, admin := startAdmin(t, apptest.Options{Dialect: d})
		anon := inst.NewClient()

		r := anon.Do(t, "GET", "/healthz", nil)
		wantStatus(t, r, 200, "healthz")
		if r.String("status") != "ok" {
			t.Fatalf("healthz: %s", r.Body)
		}
		r = anon.Do(t, "GET", "/readyz", nil)
		wantStatus(t, r, 200, "readyz")
		if r.Get("ready") != true || r.String("checks.database") != "ok" || r.String("checks.queue") != "ok" {
			t.Fatalf("readyz: %s", r.Body)
		}

		for range 3 {
			admin.Do(t, "GET", "/api/v1/me", nil)
		}
		anon.Do(t, "GET", "/api/v1/me", nil)
		anon.Do(t, "GET", "/api/v1/users/secret-looking-id", nil)

		// The gauge has a series per job state present, so it is empty until
		// the queue's first job (the session cleanup, run once a leader is
		// elected) is in; wait for that, boundedly.
		var body string
		deadline := time.Now().Add(10 * time.Second)
		for {
			body = string(anon.Do(t, "GET", "/metrics", nil).Body)
			if regexp.MustCompile(`(?m)^sluice_queue_depth\{state="[a-z_]+"\} \d+`).MatchString(body) || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		want := []struct {
			name    string
			pattern string
			atLeast int
		}{
			{name: "me by session and key", pattern: `sluice_http_requests_total\{method="GET",route="GET /api/v1/me",status="200"\} (\d+)`, atLeast: 3},
			{name: "me anonymous", pattern: `sluice_http_requests_total\{method="GET",route="GET /api/v1/me",status="401"\} (\d+)`, atLeast: 1},
			{name: "readyz", pattern: `sluice_http_requests_total\{method="GET",route="GET /readyz",status="200"\} (\d+)`, atLeast: 1},
			{name: "setup", pattern: `sluice_http_requests_total\{method="POST",route="POST /api/v1/setup",status="201"\} (\d+)`, atLeast: 1},
			{name: "latency histogram", pattern: `sluice_http_request_duration_seconds_count\{method="GET",route="GET /api/v1/me"\} (\d+)`, atLeast: 4},
			{name: "queue depth", pattern: `sluice_queue_depth\{state="[a-z_]+"\} (\d+)`, atLeast: 0},
		}
		for _, w := range want {
			m := regexp.MustCompile(`(?m)^` + w.pattern).FindStringSubmatch(body)
			if m == nil {
				t.Fatalf("%s: no line matching %s in\n%s", w.name, w.pattern, body)
			}
			n, _ := strconv.Atoi(m[1])
			if n < w.atLeast {
				t.Fatalf("%s: %s is %d, want ≥ %d", w.name, m[0], n, w.atLeast)
			}
		}
		if regexp.MustCompile(`secret-looking-id`).MatchString(body) {
			t.Fatal("a raw request path became a metric label")
		}
	})
}
