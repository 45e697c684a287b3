package http

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	stdhttp "net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/sluice-dev/sluice/internal/connector"
)

// benchAPI serves pages of 500 orders of about 400 bytes (?page=N, 20
// pages), encoded once.
func benchAPI(b *testing.B) (*httptest.Server, int) {
	const pages, size = 20, 500
	var bodies [][]byte
	for p := range pages {
		var recs []any
		for i := range size {
			n := p*size + i
			recs = append(recs, map[string]any{"id": n, "customer": "customer-" + strconv.Itoa(n%997) + "@example.com",
				"status": "processing", "total": "123.45", "currency": "EUR", "created_at": "2026-01-02T03:04:05Z",
				"lines":    []any{map[string]any{"sku": "SKU-" + strconv.Itoa(n%101), "qty": 2, "price": "61.72"}},
				"shipping": map[string]any{"street": "1 Long Street", "city": "Springfield", "zip": "12345", "country": "DE"}})
		}
		body, _ := json.Marshal(map[string]any{"orders": recs})
		bodies = append(bodies, body)
	}
	srv := httptest.NewServer(stdhttp.HandlerFunc(func(w stdhttp.ResponseWriter, r *stdhttp.Request) {
		p, _ := strconv.Atoi(r.URL.Query().Get("page"))
		w.Header().Set("Content-Type", "application/json")
		if p < 1 || p > pages {
			_, _ = w.Write([]byte(`{"orders": []}`))
			return
		}
		_, _ = w.Write(bodies[p-1])
	}))
	b.Cleanup(srv.Close)
	return srv, pages * size
}

// BenchmarkReadPages reads every page through the Source; compare with
// BenchmarkBareLoop, the same pages fetched and decoded by a minimal loop.
func BenchmarkReadPages(b *testing.B) {
	srv, n := benchAPI(b)
	conn := Conn{Client: srv.Client(), BaseURL: srv.URL}
	settings := map[string]any{"request": get("/orders"), "records": ".orders[]",
		"paginate": map[string]any{"style": "page", "size": 500, "size_param": "per_page"}}
	b.ReportAllocs()
	for b.Loop() {
		src, err := NewSource(connector.Env{}, conn, settings)
		if err != nil {
			b.Fatal(err)
		}
		_ = src.Open(context.Background())
		got := 0
		for {
			recs, _, err := src.Read(context.Background())
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			got += len(recs)
		}
		if got != n {
			b.Fatalf("read %d of %d", got, n)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkBareLoop(b *testing.B) {
	srv, n := benchAPI(b)
	bareLoop(b, srv.Client(), srv.URL, n)
}

// bareLoop is the baseline of the read benchmarks: every page of 500
// fetched and decoded by encoding/json (UseNumber), nothing else; it
// checks n records were read.
func bareLoop(b *testing.B, c *stdhttp.Client, base string, n int) {
	b.Helper()
	b.ReportAllocs()
	for b.Loop() {
		got := 0
		for p := 1; ; p++ {
			resp, err := c.Get(base + "/orders?page=" + strconv.Itoa(p) + "&per_page=500")
			if err != nil {
				b.Fatal(err)
			}
			var page struct {
				Orders []map[string]any `json:"orders"`
			}
			d := json.NewDecoder(resp.Body)
			d.UseNumber()
			err = d.Decode(&page)
			resp.Body.Close()
			if err != nil {
				b.Fatal(err)
			}
			got += len(page.Orders)
			if len(page.Orders) < 500 {
				break
			}
		}
		if got != n {
			b.Fatalf("read %d of %d", got, n)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}
