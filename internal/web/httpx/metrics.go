package httpx

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// queueDepthTimeout bounds the queue-depth query made during a scrape, so a
// slow database delays /metrics by at most this much.
const queueDepthTimeout = 2 * time.Second

// Metrics holds Sluice's Prometheus metrics in a registry of its own rather
// than the global default, so tests and several servers in one process do
// not collide, and only what is registered here is exposed.
type Metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	jobs     *prometheus.CounterVec
	depth    *queueDepthCollector
}

// NewMetrics builds the registry with the Go runtime and process collectors
// and Sluice's HTTP and queue metrics.
func NewMetrics() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sluice_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route pattern and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_queue_jobs_total",
			Help: "Queue jobs finished, by kind and outcome.",
		}, []string{"kind", "outcome"}),
		depth: &queueDepthCollector{
			desc: prometheus.NewDesc("sluice_queue_depth", "Queue jobs by state, read at scrape time.", []string{"state"}, nil),
		},
	}
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration, m.jobs, m.depth,
	)
	return m
}

// Registry returns the registry, for registering further collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Handler serves the registry in the Prometheus exposition format. A failing
// collector does not blank the whole page; the rest is still served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Middleware counts and times every request. The route label is the
// ServeMux pattern that matched (read after the handler ran, since the mux
// sets it) or "unmatched"; the raw path is never used, because IDs in paths
// would create a new time series per resource and scanners would create
// one per probe. Methods outside the standard set count as "OTHER" for the
// same reason.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := recordResponse(w)
		next.ServeHTTP(rec, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		method := methodLabel(r.Method)
		m.requests.WithLabelValues(route, method, strconv.Itoa(rec.status())).Inc()
		m.duration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
	})
}

func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}

// JobDone counts one finished queue job. Callers should pass a small fixed
// set of kinds and outcomes (such as "completed", "failed", "cancelled")
// since each pair is its own time series.
func (m *Metrics) JobDone(kind, outcome string) {
	m.jobs.WithLabelValues(kind, outcome).Inc()
}

// SetQueueDepthFunc sets where sluice_queue_depth comes from. f is called at
// scrape time, with a 2-second timeout, and returns the number of jobs per
// state; reading at scrape time keeps the gauge exact without a background
// poller. When f fails the gauge is left out of that scrape rather than
// reporting stale or zero values. Passing nil removes the gauge.
func (m *Metrics) SetQueueDepthFunc(f func(ctx context.Context) (map[string]int64, error)) {
	m.depth.mu.Lock()
	defer m.depth.mu.Unlock()
	m.depth.f = f
}

// queueDepthCollector asks the queue for its depth on every scrape.
type queueDepthCollector struct {
	desc *prometheus.Desc

	mu sync.RWMutex
	f  func(ctx context.Context) (map[string]int64, error)
}

func (c *queueDepthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *queueDepthCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.RLock()
	f := c.f
	c.mu.RUnlock()
	if f == nil {
		return
	}
	// Collect has no context of its own; the timeout keeps a stuck query
	// from holding the scrape open.
	ctx, cancel := context.WithTimeout(context.Background(), queueDepthTimeout)
	defer cancel()
	depths, err := f(ctx)
	if err != nil {
		return
	}
	for state, n := range depths {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), state)
	}
}
