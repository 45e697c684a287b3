package engine

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice-dev/sluice/bench/w1"
	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/flow"
)

// w1Records is the W1 input of the in-process benchmarks (about 40 MB);
// bench/w1/run.sh measures 1 million.
const w1Records = 100_000

// w1Flow is the W1 flow: NDJSON → map → NDJSON.
const w1Flow = w1.Flow

func w1Input(b *testing.B) string {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "files")
	if err := os.Mkdir(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "in.ndjson"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := w1.Generate(f, w1Records, 1); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkW1 is W1 through the engine: NDJSON → map (jq) → NDJSON over the
// file connector, batches of 500, with counters and a progress callback per
// batch. Compare its records/s with BenchmarkW1Baseline of the same run.
func BenchmarkW1(b *testing.B) { benchEngine(b, w1Flow) }

// BenchmarkW1NoMap is BenchmarkW1 without the map step: what the engine
// costs beside jq.
func BenchmarkW1NoMap(b *testing.B) {
	benchEngine(b, "name: w1\nread: {file: {path: in.ndjson, format: ndjson}}\nentity_id: .id\nwrite: {file: {path: out.ndjson, format: ndjson}}\n")
}

func benchEngine(b *testing.B, doc string) {
	dir := w1Input(b)
	c, err := flow.Load([]byte(doc))
	if err != nil {
		b.Fatal(err)
	}
	kind, err := connector.Lookup("file")
	if err != nil {
		b.Fatal(err)
	}
	env := connector.Env{FilesDir: dir, BatchSize: 500}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		src, err := kind.NewSource(env, map[string]any{"path": "in.ndjson", "format": "ndjson"})
		if err != nil {
			b.Fatal(err)
		}
		sink, err := kind.NewSink(env, map[string]any{"path": "out.ndjson", "format": "ndjson"})
		if err != nil {
			b.Fatal(err)
		}
		var progress Counters
		res, err := Run(ctx, c, src, map[string]connector.Sink{"write": sink}, Options{
			OnProgress: func(c Counters, _ connector.Position) { progress = c },
		})
		if err != nil || res.Succeeded != w1Records || progress != res.Counters {
			b.Fatalf("%+v: %v", res.Counters, err)
		}
	}
	b.ReportMetric(float64(w1Records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkW1Baseline is the W1 baseline on the same input: the minimal
// bufio + encoding/json loop of bench/w1 (w1.Baseline), no transform.
func BenchmarkW1Baseline(b *testing.B) {
	dir := w1Input(b)
	b.ResetTimer()
	for b.Loop() {
		n, err := w1.BaselineFiles(filepath.Join(dir, "in.ndjson"), filepath.Join(dir, "out.ndjson"))
		if err != nil || n != w1Records {
			b.Fatalf("copied %d records: %v", n, err)
		}
	}
	b.ReportMetric(float64(w1Records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
