// Command api is the loopback API of the W4 benchmark (bench/w4/run.sh):
//
//   - GET /orders?page=P&per_page=S serves page P of N orders of about 400
//     bytes (see w4.AppendPage) as {"orders":[...]}; every -every'th page
//     answers 429 with Retry-After: 1 the first time it is asked for,
//     and the page itself when asked again;
//   - POST /sink takes a JSON array of records, counts them by their "id"
//     (each id from 1 to N, duplicates and strays counted apart; read by
//     w4.IDs, which costs little CPU) and answers an array of
//     {"id": "d-ID"}, one per record;
//   - GET /stats answers the counters as JSON; POST /reset sets them and
//     the 429s back to the start, so the bare loop and Sluice meet the
//     same API.
//
// It listens on 127.0.0.1 only and writes its base URL to -addr-file once
// it listens; SIGTERM or SIGINT stops it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/sluice-dev/sluice/bench/w4"
)

// stats are the API's counters since the last reset.
type stats struct {
	Pages     int64 `json:"pages"`      // pages served (200)
	Throttled int64 `json:"throttled"`  // 429 answers
	Requests  int64 `json:"sink_posts"` // POSTs to /sink
	Received  int64 `json:"received"`   // records POSTed to /sink
	Distinct  int64 `json:"distinct"`   // distinct ids among them
	Dups      int64 `json:"duplicates"` // ids received more than once
	Strays    int64 `json:"strays"`     // records without an id in 1..N
	BadBodies int64 `json:"bad_bodies"` // POSTs whose body was not an array of objects
}

type api struct {
	n     int64
	every int

	mu        sync.Mutex
	st        stats
	throttled map[int]bool // pages that answered 429 already
	seen      []uint64     // bitmap of the ids received
}

func (a *api) reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.st = stats{}
	a.throttled = map[int]bool{}
	a.seen = make([]uint64, (a.n+64)/64)
}

var pool = sync.Pool{New: func() any { b := make([]byte, 0, 256<<10); return &b }}

func (a *api) orders(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, err := strconv.Atoi(q.Get("page"))
	if err != nil {
		http.Error(w, `{"error":"page must be a number"}`, http.StatusBadRequest)
		return
	}
	size := 500
	if v := q.Get("per_page"); v != "" {
		if size, err = strconv.Atoi(v); err != nil || size < 1 || size > 10000 {
			http.Error(w, `{"error":"per_page must be 1 to 10000"}`, http.StatusBadRequest)
			return
		}
	}
	if a.every > 0 && p > 0 && p%a.every == 0 {
		a.mu.Lock()
		first := !a.throttled[p]
		a.throttled[p] = true
		if first {
			a.st.Throttled++
		}
		a.mu.Unlock()
		if first {
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"error":"slow down"}`)
			return
		}
	}
	bp := pool.Get().(*[]byte)
	b := (*bp)[:0]
	if p >= 1 {
		b = w4.AppendPage(b, p, size, a.n)
	} else {
		b = append(b, `{"orders":[]}`...)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
	*bp = b
	pool.Put(bp)
	a.mu.Lock()
	a.st.Pages++
	a.mu.Unlock()
}

func (a *api) sink(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<20))
	var ids []int64
	if err == nil {
		ids, err = w4.IDs(body, make([]int64, 0, 512))
	}
	if err != nil {
		a.mu.Lock()
		a.st.BadBodies++
		a.mu.Unlock()
		http.Error(w, `{"error":"the body must be a JSON array of records, each with a whole-number id"}`, http.StatusBadRequest)
		return
	}
	out := make([]byte, 0, len(ids)*16+2)
	out = append(out, '[')
	a.mu.Lock()
	a.st.Requests++
	for i, id := range ids {
		a.st.Received++
		switch {
		case id < 1 || id > a.n:
			a.st.Strays++
		case a.seen[id/64]&(1<<(id%64)) != 0:
			a.st.Dups++
		default:
			a.seen[id/64] |= 1 << (id % 64)
			a.st.Distinct++
		}
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"id":"d-`...)
		out = strconv.AppendInt(out, id, 10)
		out = append(out, `"}`...)
	}
	a.mu.Unlock()
	out = append(out, ']')
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

func main() {
	n := flag.Int64("n", 500000, "orders the API serves")
	every := flag.Int("every", 50, "every how many pages one answers 429 once (0: none)")
	addrFile := flag.String("addr-file", "", "file the base URL is written to once the API listens")
	flag.Parse()
	if *n < 1 || *every < 0 {
		log.Fatal("api: -n must be at least 1 and -every at least 0")
	}
	a := &api{n: *n, every: *every}
	a.reset()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders", a.orders)
	mux.HandleFunc("POST /sink", a.sink)
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		st := a.st
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st)
	})
	mux.HandleFunc("POST /reset", func(w http.ResponseWriter, r *http.Request) {
		a.reset()
		w.WriteHeader(http.StatusNoContent)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatalf("api: %v", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	base := "http://" + ln.Addr().String()
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile+".tmp", []byte(base+"\n"), 0o600); err != nil {
			log.Fatalf("api: %v", err)
		}
		if err := os.Rename(*addrFile+".tmp", *addrFile); err != nil {
			log.Fatalf("api: %v", err)
		}
	}
	fmt.Println("api: listening on", base)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("api: %v", err)
	}
}
