package file

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice-dev/sluice/bench/w1"
	"github.com/sluice-dev/sluice/internal/connector"
)

// benchRecords is the size of the W1 input the benchmarks copy per
// iteration (about 20 MB); bench/w1/run.sh measures 1 million.
const benchRecords = 50_000

func benchInput(b *testing.B) string {
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
	if err := w1.Generate(f, benchRecords, 1); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkNDJSONPassthrough is W1 without the engine: the file Source
// reads the W1 orders in batches and the file Sink writes them to a new
// NDJSON file (replace mode: temporary file, fsync, rename), no transform.
// Compare its records/s with BenchmarkNDJSONBaseline of the same run.
func BenchmarkNDJSONPassthrough(b *testing.B) {
	dir := benchInput(b)
	ctx := context.Background()
	env := connector.Env{FilesDir: dir}
	kind, err := connector.Lookup("file")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		res, err := w1.Passthrough(ctx, kind, env, "in.ndjson", "out.ndjson")
		if err != nil || res.Written != benchRecords {
			b.Fatalf("copied %d records: %v", res.Written, err)
		}
	}
	b.ReportMetric(float64(benchRecords)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkNDJSONBaseline is the W1 baseline on the same input: a minimal
// bufio + encoding/json loop (bench/w1.Baseline).
func BenchmarkNDJSONBaseline(b *testing.B) {
	dir := benchInput(b)
	b.ResetTimer()
	for b.Loop() {
		n, err := w1.BaselineFiles(filepath.Join(dir, "in.ndjson"), filepath.Join(dir, "out.ndjson"))
		if err != nil || n != benchRecords {
			b.Fatalf("copied %d records: %v", n, err)
		}
	}
	b.ReportMetric(float64(benchRecords)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
