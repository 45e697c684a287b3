package http

import (
	"context"
	"io"
	stdhttp "net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/sluice-dev/sluice/bench/w4"
	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/flow"
)

// pipelineAPI is W4 (issue 5, Measure) in process: the pages of
// bench/w4/api (20 pages of 500 orders of about 400 bytes, encoded once)
// at GET /orders?page=N, and POST /sink, which counts the records of each
// array it gets with w4.IDs (as the W4 API does) and answers an array of
// ids.
func pipelineAPI(b *testing.B) (*httptest.Server, *atomic.Int64, int) {
	const pages, size = 20, 500
	var bodies [][]byte
	for p := range pages {
		bodies = append(bodies, w4.AppendPage(nil, p+1, size, pages*size))
	}
	var got atomic.Int64
	srv := httptest.NewServer(stdhttp.HandlerFunc(func(w stdhttp.ResponseWriter, r *stdhttp.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == "GET" {
			p, _ := strconv.Atoi(r.URL.Query().Get("page"))
			if p < 1 || p > pages {
				_, _ = w.Write([]byte(`{"orders": []}`))
				return
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(bodies[p-1])))
			_, _ = w.Write(bodies[p-1])
			return
		}
		body, err := io.ReadAll(r.Body)
		var ids []int64
		if err == nil {
			ids, err = w4.IDs(body, nil)
		}
		if err != nil {
			stdhttp.Error(w, err.Error(), stdhttp.StatusBadRequest)
			return
		}
		got.Add(int64(len(ids)))
		out := make([]byte, 0, 16*len(ids)+2)
		out = append(out, '[')
		for i, id := range ids {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, `{"id":"d-`...)
			out = strconv.AppendInt(out, id, 10)
			out = append(out, `"}`...)
		}
		out = append(out, ']')
		_, _ = w.Write(out)
	}))
	b.Cleanup(srv.Close)
	return srv, &got, pages * size
}

// BenchmarkReadMapWrite runs bench/w4/flow.yaml (pages of 500 read, each
// order mapped, batches of 500 written) through the engine with an http
// Source and Sink; compare with BenchmarkReadMapWriteBare, which only
// fetches and decodes the same pages from the same server.
func BenchmarkReadMapWrite(b *testing.B) {
	srv, got, n := pipelineAPI(b)
	doc, err := os.ReadFile("../../../bench/w4/flow.yaml")
	if err != nil {
		b.Fatal(err)
	}
	f, err := flow.Parse(doc)
	if err != nil {
		b.Fatal(err)
	}
	c, err := flow.Load(doc)
	if err != nil {
		b.Fatal(err)
	}
	writes, _ := StepSources(f)
	conn := Conn{Client: srv.Client(), BaseURL: srv.URL}
	b.ReportAllocs()
	for b.Loop() {
		got.Store(0)
		src, err := NewSource(connector.Env{}, conn, ReadSettings(f.Read, ""))
		if err != nil {
			b.Fatal(err)
		}
		sink, err := NewSink(connector.Env{}, conn, WriteSettings(writes["write"]))
		if err != nil {
			b.Fatal(err)
		}
		res, err := engine.Run(context.Background(), c, src, map[string]connector.Sink{"write": sink}, engine.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if res.Succeeded != int64(n) || got.Load() != int64(n) {
			b.Fatalf("%d succeeded and %d received of %d", res.Succeeded, got.Load(), n)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkReadMapWriteBare is bench/w4/bare in process: every page
// fetched and decoded by encoding/json (UseNumber), nothing else.
func BenchmarkReadMapWriteBare(b *testing.B) {
	srv, _, n := pipelineAPI(b)
	bareLoop(b, srv.Client(), srv.URL, n)
}
