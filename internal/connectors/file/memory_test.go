package file

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/sluice-dev/sluice/bench/w1"
)

// TestMemoryBounded streams a file much larger than the heap it may use
// through a Source and a Sink, and checks that the live heap stays far
// below the file's size: memory does not grow with the file. The bound is
// generous (it is not a benchmark); the records in flight are one batch.
func TestMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes about 100 MB")
	}
	const records = 120_000 // about 49 MB of NDJSON
	const bound = 24 << 20  // heap in use above the start, at most
	dir := filesDir(t)
	f, err := os.Create(filepath.Join(dir, "in.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	if err := w1.Generate(f, records, 1); err != nil {
		t.Fatal(err)
	}
	f.Close()

	for _, step := range []struct{ from, to Format }{{NDJSON, JSON}, {JSON, CSV}, {CSV, NDJSON}} {
		t.Run(string(step.from)+" to "+string(step.to), func(t *testing.T) {
			in, out := "in."+string(step.from), "in."+string(step.to)
			n, peak := pipe(t, dir, settings(in, step.from), settings(out, step.to))
			if n != records {
				t.Fatalf("copied %d records, want %d", n, records)
			}
			fi, _ := os.Stat(filepath.Join(dir, in))
			t.Logf("%s: %d MB through a peak heap of %.1f MiB above the start", in, fi.Size()>>20, float64(peak)/(1<<20))
			if peak > bound {
				t.Fatalf("heap grew by %d MiB reading a %d MiB file; want under %d MiB", peak>>20, fi.Size()>>20, bound>>20)
			}
		})
	}
}

// pipe copies every record from a source to a sink in batches, sampling
// the heap, and returns the records copied and the peak heap in use above
// where it started.
func pipe(t *testing.T, dir string, from, to map[string]any) (int, uint64) {
	ctx := context.Background()
	src, err := newTestSource(t, dir, 0, from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	sink, err := newTestSink(t, dir, to)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sink.Open(ctx); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	start, peak := ms.HeapInuse, uint64(0)
	n := 0
	for batch := 0; ; batch++ {
		recs, _, err := src.Read(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sink.Write(ctx, recs); err != nil {
			t.Fatal(err)
		}
		n += len(recs)
		if batch%8 == 0 {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > start && ms.HeapInuse-start > peak {
				peak = ms.HeapInuse - start
			}
		}
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	return n, peak
}
