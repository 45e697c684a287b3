package http

import (
	"context"
	"encoding/json"
	"errors"
	stdhttp "net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/connector/connectortest"
)

func recs(objs ...map[string]any) []connector.Record {
	out := make([]connector.Record, len(objs))
	for i, o := range objs {
		out[i] = connector.Record{Data: o}
	}
	return out
}

func mustSink(t *testing.T, conn Conn, settings map[string]any) *Sink {
	t.Helper()
	s, err := NewSink(connector.Env{}, conn, settings)
	if err != nil {
		t.Fatalf("NewSink: %v", err)
	}
	if err := s.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func post(path string) map[string]any { return map[string]any{"method": "POST", "path": path} }

// echo answers each POST with {"id": <sku>-1} and refuses a record whose
// sku is "bad" with 400.
func echo(t *testing.T) *server {
	return newServer(t, func(w stdhttp.ResponseWriter, r *stdhttp.Request) {
		var v any
		d := json.NewDecoder(r.Body)
		if err := d.Decode(&v); err != nil {
			writeJSON(w, 400, map[string]any{"error": err.Error()})
			return
		}
		answer := func(o any) any {
			m, _ := o.(map[string]any)
			return map[string]any{"id": m["sku"].(string) + "-1"}
		}
		switch x := v.(type) {
		case []any:
			out := make([]any, len(x))
			for i, o := range x {
				out[i] = answer(o)
			}
			writeJSON(w, 201, out)
		case map[string]any:
			if x["sku"] == "bad" {
				writeJSON(w, 400, map[string]any{"error": "sku is not valid", "password": "p4ssw0rd!"})
				return
			}
			writeJSON(w, 201, answer(x))
		}
	})
}

func TestSinkContract(t *testing.T) {
	srv := echo(t)
	connectortest.RunSink(t, func(t *testing.T) connector.Sink {
		s, err := NewSink(connector.Env{}, srv.conn(nil), map[string]any{"request": post("/items")})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, recs(map[string]any{"sku": "a"}, map[string]any{"sku": "b"}))
}

func TestSinkPerRecord(t *testing.T) {
	srv := echo(t)
	s := mustSink(t, srv.conn(nil), map[string]any{"request": map[string]any{"method": "POST", "path": "/items/{{.sku}}",
		"body": "{sku, qty: (.qty // 1)}", "headers": map[string]any{"X-Trace": "{{.sku}}"}}})
	out, err := s.Write(context.Background(), recs(map[string]any{"sku": "a", "secret": "x"}, map[string]any{"sku": "bad"}, map[string]any{"sku": "c"}))
	if err != nil {
		t.Fatal(err)
	}
	if out[0].Err != nil || out[2].Err != nil {
		t.Fatalf("good records failed: %v, %v", out[0].Err, out[2].Err)
	}
	if out[0].Response.(map[string]any)["id"] != "a-1" || out[2].Response.(map[string]any)["id"] != "c-1" {
		t.Fatalf("answers %v, %v", out[0].Response, out[2].Response)
	}
	msg := out[1].Err.Error()
	if !strings.Contains(msg, "POST /api/items/bad answered 400") || !strings.Contains(msg, "sku is not valid") || strings.Contains(msg, "p4ssw0rd!") {
		t.Fatalf("refused record: %q", msg)
	}
	if _, transient := connector.Transient(out[1].Err); transient {
		t.Fatal("a 400 is transient")
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	for i, b := range srv.bodies {
		if strings.Contains(b, "secret") {
			t.Fatalf("body %d sent the whole record, not request.body: %s", i, b)
		}
	}
}

func TestSinkBatch(t *testing.T) {
	srv := echo(t)
	s := mustSink(t, srv.conn(nil), map[string]any{"request": post("/bulk"), "batch": 2})
	out, err := s.Write(context.Background(), recs(map[string]any{"sku": "a"}, map[string]any{"sku": "b"}, map[string]any{"sku": "c"}))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"a-1", "b-1", "c-1"} {
		if out[i].Err != nil || out[i].Response.(map[string]any)["id"] != want {
			t.Fatalf("record %d: %+v", i, out[i])
		}
	}
	if srv.count() != 2 {
		t.Fatalf("%d requests for 3 records in batches of 2", srv.count())
	}
	t.Run("an answer not matching the batch goes to every record", func(t *testing.T) {
		srv := newServer(t, func(w stdhttp.ResponseWriter, r *stdhttp.Request) { writeJSON(w, 200, map[string]any{"accepted": 2}) })
		s := mustSink(t, srv.conn(nil), map[string]any{"request": post("/bulk"), "batch": 5})
		out, err := s.Write(context.Background(), recs(map[string]any{"sku": "a"}, map[string]any{"sku": "b"}))
		if err != nil || out[0].Response.(map[string]any)["accepted"] != json.Number("2") || out[1].Response == nil {
			t.Fatalf("%+v, %v", out, err)
		}
	})
}

func TestSinkTransient(t *testing.T) {
	var calls atomic.Int32
	srv := newServer(t, func(w stdhttp.ResponseWriter, r *stdhttp.Request) {
		if calls.Add(1) == 2 {
			w.Header().Set("Retry-After", "9")
			writeJSON(w, 429, nil)
			return
		}
		writeJSON(w, 200, map[string]any{"ok": true})
	})
	conn := srv.conn(nil)
	conn.Limits = NewLimits(0, 0, 1) // one at a time: the order is known
	s := mustSink(t, conn, map[string]any{"request": post("/x")})
	out, err := s.Write(context.Background(), recs(map[string]any{"n": 1}, map[string]any{"n": 2}, map[string]any{"n": 3}))
	if err != nil {
		t.Fatal(err)
	}
	if out[0].Err != nil {
		t.Fatalf("first: %v", out[0].Err)
	}
	for i := 1; i < 3; i++ {
		after, ok := connector.Transient(out[i].Err)
		if !ok || after != 9*time.Second {
			t.Fatalf("record %d: %v (after %v), want transient after 9s", i, out[i].Err, after)
		}
	}
	if calls.Load() != 2 {
		t.Fatalf("%d requests: the sink went on after a 429", calls.Load())
	}
	t.Run("no answer is transient", func(t *testing.T) {
		dead := newServer(t, func(w stdhttp.ResponseWriter, r *stdhttp.Request) {})
		conn := dead.conn(nil)
		dead.Close()
		s := mustSink(t, conn, map[string]any{"request": post("/x")})
		out, err := s.Write(context.Background(), recs(map[string]any{"n": 1}))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := connector.Transient(out[0].Err); !ok {
			t.Fatalf("connection refused: %v, want transient", out[0].Err)
		}
	})
}

func TestPreview(t *testing.T) {
	srv := echo(t)
	conn := srv.conn(nil)
	conn.Headers = map[string]string{"X-Tenant": "acme"}
	s := mustSink(t, conn, map[string]any{"request": map[string]any{"method": "PUT", "path": "/items/{{.sku}}", "query": map[string]any{"v": "2"},
		"headers": map[string]any{"X-Session-Id": "{{.sid}}"}}, "batch": 1})
	out, err := s.Preview(context.Background(), recs(map[string]any{"sku": "a", "sid": "s-123456"}, map[string]any{"sid": "x"}))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(out)
	got := string(b)
	for _, want := range []string{`"method":"PUT"`, `/api/items/a?v=2`, `"X-Tenant":"acme"`, `"X-Session-Id":"[REDACTED]"`, `"body":{"sid":"s-123456","sku":"a"}`, `"error":"request path`} {
		if !strings.Contains(got, want) {
			t.Errorf("preview %s does not show %s", got, want)
		}
	}
	if srv.count() != 0 {
		t.Fatal("Preview sent a request")
	}
}

func TestCaller(t *testing.T) {
	srv := newServer(t, func(w stdhttp.ResponseWriter, r *stdhttp.Request) {
		switch r.URL.Path {
		case "/api/customers/ann@example.com":
			writeJSON(w, 200, map[string]any{"id": 42})
		case "/api/customers/down@example.com":
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(503)
		case "/api/customers/bad@example.com":
			writeJSON(w, 422, map[string]any{"error": "bad"})
		default:
			writeJSON(w, 404, map[string]any{"error": "not found"})
		}
	})
	c, err := Bind(srv.conn(nil)).NewCaller(connector.Env{}, map[string]any{"request": get("/customers/{{.email}}")})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Call(ctx, connector.Record{}); err == nil {
		t.Fatal("Call before Open")
	}
	_ = c.Open(ctx)
	call := func(email string) (any, error) {
		return c.Call(ctx, connector.Record{Data: map[string]any{"email": email}})
	}
	if v, err := call("ann@example.com"); err != nil || v.(map[string]any)["id"] != json.Number("42") {
		t.Fatalf("found: %v, %v", v, err)
	}
	if v, err := call("nobody@example.com"); err != nil || v != nil {
		t.Fatalf("404: %v, %v; want nil, nil", v, err)
	}
	if _, err := call("down@example.com"); err == nil {
		t.Fatal("503 succeeded")
	} else if after, ok := connector.Transient(err); !ok || after != 2*time.Second {
		t.Fatalf("503: %v, want transient after 2s", err)
	}
	if _, err := call("bad@example.com"); err == nil || !strings.Contains(err.Error(), "422") {
		t.Fatalf("422: %v", err)
	} else if _, ok := connector.Transient(err); ok {
		t.Fatal("a 422 is transient")
	}
	if _, err := c.Call(ctx, connector.Record{Data: map[string]any{}}); err == nil || !strings.Contains(err.Error(), "gave null") {
		t.Fatalf("a record without the field: %v", err)
	}
	_ = c.Close()
	if _, err := call("ann@example.com"); !errors.Is(err, connector.ErrClosed) {
		t.Fatalf("Call after Close: %v", err)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	var inFlight, most atomic.Int32
	gate := make(chan struct{})
	var once sync.Once
	srv := newServer(t, func(w stdhttp.ResponseWriter, r *stdhttp.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		if n == 2 {
			once.Do(func() { close(gate) })
		}
		select { // hold the first requests until two are in flight
		case <-gate:
		case <-time.After(2 * time.Second):
		}
		writeJSON(w, 200, map[string]any{"ok": true})
	})
	conn := srv.conn(nil)
	conn.Limits = NewLimits(0, 0, 2)
	// Two sinks and a caller share the connection's limits.
	a := mustSink(t, conn, map[string]any{"request": post("/a")})
	b := mustSink(t, conn, map[string]any{"request": post("/b")})
	c, _ := NewCaller(connector.Env{}, conn, map[string]any{"request": post("/c")})
	_ = c.Open(context.Background())
	batch := make([]connector.Record, 20)
	for i := range batch {
		batch[i] = connector.Record{Data: map[string]any{"n": i}}
	}
	var wg sync.WaitGroup
	for _, s := range []*Sink{a, b} {
		wg.Go(func() {
			out, err := s.Write(context.Background(), batch)
			if err != nil {
				t.Error(err)
			}
			for _, o := range out {
				if o.Err != nil {
					t.Error(o.Err)
				}
			}
		})
	}
	for range 5 {
		wg.Go(func() {
			if _, err := c.Call(context.Background(), batch[0]); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if m := most.Load(); m > 2 {
		t.Fatalf("%d requests were in flight at once, over the limit of 2", m)
	}
	if srv.count() != 45 {
		t.Fatalf("%d requests, want 45", srv.count())
	}
}

func TestRateLimit(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	var waited []time.Duration
	l := NewLimits(10, 2, 0) // 10 a second, bursts of 2
	l.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	l.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		waited = append(waited, d)
		clock = clock.Add(d)
		return nil
	}
	srv := newServer(t, func(w stdhttp.ResponseWriter, r *stdhttp.Request) { writeJSON(w, 200, []any{}) })
	conn := srv.conn(nil)
	conn.Limits = l
	c, _ := NewCaller(connector.Env{}, conn, map[string]any{"request": get("/x")})
	_ = c.Open(context.Background())
	for range 6 {
		if _, err := c.Call(context.Background(), connector.Record{}); err != nil {
			t.Fatal(err)
		}
	}
	// The burst of 2 goes at once; each of the other 4 waits 100ms.
	if len(waited) != 4 {
		t.Fatalf("waits %v, want 4 of 100ms", waited)
	}
	for _, d := range waited {
		if d != 100*time.Millisecond {
			t.Fatalf("waits %v, want 100ms each", waited)
		}
	}
	t.Run("a cancelled wait gives its token back", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		l.sleep = func(ctx context.Context, d time.Duration) error { return ctx.Err() }
		if _, err := l.acquire(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("acquire: %v", err)
		}
	})
}
