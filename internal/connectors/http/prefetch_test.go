package http

import (
	"context"
	"encoding/json"
	stdhttp "net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/connector"
)

// gatedPages serves ?page=N of 3 records each, ids from 0, 9 records in
// all. The first request for page 2 waits until release is closed (or the
// client gives up), and tells asked when it arrives.
type gatedPages struct {
	*server
	asked   chan struct{}
	release chan struct{}
	once    sync.Once
}

func newGatedPages(t *testing.T) *gatedPages {
	g := &gatedPages{asked: make(chan struct{}, 10), release: make(chan struct{})}
	var mu sync.Mutex
	first := true
	g.server = newServer(t, func(w stdhttp.ResponseWriter, r *stdhttp.Request) {
		p := intParam(r, "page", 1)
		if p == 2 {
			g.asked <- struct{}{}
			mu.Lock()
			gate := first
			first = false
			mu.Unlock()
			if gate {
				select {
				case <-g.release:
				case <-r.Context().Done():
					return
				}
			}
		}
		from := (p - 1) * 3
		recs := orders(from, min(from+3, 9))
		if recs == nil {
			recs = []any{}
		}
		writeJSON(w, 200, map[string]any{"orders": recs})
	})
	t.Cleanup(g.open)
	return g
}

func (g *gatedPages) open() { g.once.Do(func() { close(g.release) }) }

var gatedSettings = map[string]any{"request": get("/pages"), "records": ".orders[]",
	"paginate": map[string]any{"style": "page", "size": 3, "size_param": "per_page"}}

// waitAsked waits until the server got a request for page 2; the timeout
// only stops a broken test from hanging.
func (g *gatedPages) waitAsked(t *testing.T) {
	t.Helper()
	select {
	case <-g.asked:
	case <-time.After(10 * time.Second):
		t.Fatal("page 2 was never asked for")
	}
}

func ids(t *testing.T, recs []connector.Record) []int {
	t.Helper()
	var out []int
	for _, r := range recs {
		n, _ := r.Data.(map[string]any)["id"].(json.Number).Int64()
		out = append(out, int(n))
	}
	return out
}

// TestPrefetch: once Read has given the last records of a page, the next
// page is fetched while the caller works, before the next Read; the
// Position still names that page until Read delivers it.
func TestPrefetch(t *testing.T) {
	g := newGatedPages(t)
	src := mustSource(t, g.conn(nil), connector.Env{BatchSize: 3}, gatedSettings)
	ctx := context.Background()
	recs, pos, err := src.Read(ctx)
	if err != nil || !reflect.DeepEqual(ids(t, recs), []int{0, 1, 2}) {
		t.Fatalf("first read: %v, %v", ids(t, recs), err)
	}
	g.waitAsked(t) // with no Read in progress: the prefetch asked
	var p position
	if err := json.Unmarshal(pos, &p); err != nil || p.Page.N != 2 || p.Skip != 0 || p.Done || p.Index != 3 {
		t.Fatalf("position after page 1 = %s (%v): want page 2, index 3", pos, err)
	}
	g.open()
	got, _, err := readAll(t, src)
	if err != nil || !reflect.DeepEqual(got, seq(3, 9)) {
		t.Fatalf("rest: %v, %v", got, err)
	}
	if n := g.count(); n != 4 { // pages 1, 2, 3 and the empty page 4
		t.Fatalf("%d requests, want 4", n)
	}
}

// TestPrefetchResume: a source closed while its prefetch waits stops the
// prefetch, and the Position it gave resumes at the page being fetched,
// so no record is lost or read twice.
func TestPrefetchResume(t *testing.T) {
	g := newGatedPages(t)
	conn := g.conn(nil)
	src, err := NewSource(connector.Env{BatchSize: 3}, conn, gatedSettings)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, pos, err := src.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	g.waitAsked(t)
	src.Close() // returns: the prefetch is cancelled, not waited out
	if src.ahead != nil {
		t.Fatal("Close left the prefetch")
	}
	again, err := NewSource(connector.Env{BatchSize: 3}, conn, gatedSettings)
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Resume(pos); err != nil {
		t.Fatal(err)
	}
	if err := again.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	got, _, err := readAll(t, again)
	if err != nil || !reflect.DeepEqual(got, seq(3, 9)) {
		t.Fatalf("resumed: %v, %v", got, err)
	}
}

// TestPrefetchOutlivesReadContext: a prefetch cut short because the
// context of the Read that started it ended is done again by the next
// Read, with that Read's context.
func TestPrefetchOutlivesReadContext(t *testing.T) {
	g := newGatedPages(t)
	src := mustSource(t, g.conn(nil), connector.Env{BatchSize: 3}, gatedSettings)
	ctx, cancel := context.WithCancel(context.Background())
	if _, _, err := src.Read(ctx); err != nil {
		t.Fatal(err)
	}
	g.waitAsked(t)
	cancel() // the gated request is abandoned; the server lets the next one through
	got, _, err := readAll(t, src)
	if err != nil || !reflect.DeepEqual(got, seq(3, 9)) {
		t.Fatalf("after the first context ended: %v, %v", got, err)
	}
}

// TestPrefetchError: a page that fails while prefetched fails the Read
// that needs it, after the records before it were delivered, naming the
// page; a cancelled Read waiting for a prefetch says it was cancelled.
func TestPrefetchError(t *testing.T) {
	srv := newServer(t, func(w stdhttp.ResponseWriter, r *stdhttp.Request) {
		if p := intParam(r, "page", 1); p == 2 {
			writeJSON(w, 400, map[string]any{"error": "no such page"})
			return
		}
		writeJSON(w, 200, map[string]any{"orders": orders(0, 3)})
	})
	src := mustSource(t, srv.conn(nil), connector.Env{BatchSize: 3}, gatedSettings)
	recs, _, err := src.Read(context.Background())
	if err != nil || len(recs) != 3 {
		t.Fatalf("first read: %d records, %v", len(recs), err)
	}
	_, _, err = src.Read(context.Background())
	if err == nil || !strings.Contains(err.Error(), "page 2") || !strings.Contains(err.Error(), "400") {
		t.Fatalf("second read: %v", err)
	}

	g := newGatedPages(t)
	src = mustSource(t, g.conn(nil), connector.Env{BatchSize: 3}, gatedSettings)
	if _, _, err := src.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.waitAsked(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := src.Read(ctx); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("cancelled read: %v", err)
	}
}
