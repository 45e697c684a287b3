package httpauth

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a base transport that keeps what it was sent and answers
// with respond (200 and an empty body when nil).
type recorder struct {
	mu      sync.Mutex
	reqs    []*http.Request
	bodies  []string
	respond func(*http.Request) *http.Response
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body string
	if req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		_ = req.Body.Close()
		body = string(b)
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	r.bodies = append(r.bodies, body)
	r.mu.Unlock()
	if r.respond != nil {
		req.Body = io.NopCloser(strings.NewReader(body))
		return r.respond(req), nil
	}
	return answer(req, 200, ""), nil
}

func (r *recorder) last(t *testing.T) (*http.Request, string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		t.Fatal("the base transport was not called")
	}
	return r.reqs[len(r.reqs)-1], r.bodies[len(r.bodies)-1]
}

func answer(req *http.Request, status int, body string) *http.Response {
	return &http.Response{
		StatusCode: status,
		Status:     http.StatusText(status),
		Header:     http.Header{},
		Body:       io.NopCloser(strings.NewReader(body)),
		Request:    req,
	}
}

// fixedClock is a clock tests move by hand.
type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fixedClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func mustNew(t *testing.T, cfg Config, base http.RoundTripper, opts Options) http.RoundTripper {
	t.Helper()
	rt, err := New(cfg, base, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return rt
}

// oauthParams parses an "OAuth k="v", ..." header into its (still encoded)
// values.
func oauthParams(t *testing.T, header string) map[string]string {
	t.Helper()
	rest, ok := strings.CutPrefix(header, "OAuth ")
	if !ok {
		t.Fatalf("Authorization %q does not start with OAuth", header)
	}
	out := map[string]string{}
	for part := range strings.SplitSeq(rest, ", ") {
		k, v, ok := strings.Cut(part, "=")
		if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			t.Fatalf("malformed OAuth parameter %q in %q", part, header)
		}
		out[k] = v[1 : len(v)-1]
	}
	return out
}
