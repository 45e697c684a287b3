package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	stdhttp "net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/connector"
)

// server is a test API on 127.0.0.1 with its requests counted.
type server struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*stdhttp.Request
	bodies   []string
}

func newServer(t *testing.T, h stdhttp.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(stdhttp.HandlerFunc(func(w stdhttp.ResponseWriter, r *stdhttp.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.requests = append(s.requests, r.Clone(context.Background()))
		s.bodies = append(s.bodies, string(b))
		s.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// waits records the waits of a Conn's Sleep instead of sleeping.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.d = append(w.d, d)
	w.mu.Unlock()
	return ctx.Err()
}

func (w *waits) all() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.d...)
}

// conn is a Conn to s that never really sleeps between attempts.
func (s *server) conn(w *waits) Conn {
	if w == nil {
		w = &waits{}
	}
	return Conn{Client: s.Client(), BaseURL: s.URL + "/api", Timeout: 5 * time.Second, Sleep: w.sleep}
}

// orders are n records {id, updated}.
func orders(from, to int) []any {
	var out []any
	for i := from; i < to; i++ {
		out = append(out, map[string]any{"id": i, "updated": fmt.Sprintf("2026-01-%02d", i%28+1)})
	}
	return out
}

func writeJSON(w stdhttp.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func intParam(r *stdhttp.Request, name string, def int) int {
	if v := r.URL.Query().Get(name); v != "" {
		n, err := strconv.Atoi(v)
		if err == nil {
			return n
		}
	}
	return def
}

// readAll reads a source to its end and returns the records' ids and
// the positions after each batch.
func readAll(t *testing.T, src connector.Source) ([]int, []connector.Position, error) {
	t.Helper()
	ctx := context.Background()
	var ids []int
	var poss []connector.Position
	for i := 0; i < 10000; i++ {
		recs, pos, err := src.Read(ctx)
		if errors.Is(err, io.EOF) {
			return ids, poss, nil
		}
		if err != nil {
			return ids, poss, err
		}
		for _, r := range recs {
			if r.Err != nil {
				t.Fatalf("record %d: %v", r.Meta.Index, r.Err)
			}
			n, _ := r.Data.(map[string]any)["id"].(json.Number).Int64()
			ids = append(ids, int(n))
		}
		poss = append(poss, pos)
	}
	t.Fatal("the read does not end")
	return nil, nil, nil
}

func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func mustSource(t *testing.T, conn Conn, env connector.Env, settings map[string]any) *Source {
	t.Helper()
	src, err := NewSource(env, conn, settings)
	if err != nil {
		t.Fatalf("NewSource: %v", err)
	}
	if err := src.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

func get(path string) map[string]any { return map[string]any{"method": "GET", "path": path} }
