package engine

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// TestLargeBatchOnSeveralGoroutines: a batch big enough for jqEach to
// spread over several goroutines gives the same records, in the same
// order, with the same failures on the same records, as one record at a
// time would: entity IDs, a filter, a map that fails on some records.
func TestLargeBatchOnSeveralGoroutines(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		prev := runtime.GOMAXPROCS(2)
		t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
	}
	const n = 1000 // one batch: well above parallelMin per goroutine
	var in, want strings.Builder
	wantFailed := map[string]bool{}
	for i := 1; i <= n; i++ {
		switch {
		case i%7 == 0: // no id: fails at entity_id
			fmt.Fprintf(&in, `{"n":%d}`+"\n", i)
		case i%5 == 0: // a string total: the map fails
			fmt.Fprintf(&in, `{"id":%d,"total":"x"}`+"\n", i)
			wantFailed[fmt.Sprint(i)] = true
		case i%3 == 0: // filtered out
			fmt.Fprintf(&in, `{"id":%d,"total":0}`+"\n", i)
		default:
			fmt.Fprintf(&in, `{"id":%d,"total":%d}`+"\n", i, i)
			fmt.Fprintf(&want, `{"id":%d,"next":%d}`+"\n", i, i+1)
		}
	}
	doc := flowDoc("  - filter: '.total != 0'\n  - map: '{id, next: (.total + 1)}'")
	dir, c, src, sinks := prepare(t, doc, map[string]string{"in.ndjson": in.String()}, n)
	o := run(t, context.Background(), c, src, sinks, Options{})
	if o.err != nil {
		t.Fatal(o.err)
	}
	if got := readOut(t, dir, "out.ndjson"); got != want.String() {
		t.Fatalf("output differs from the records in order:\n%.300s\nwant\n%.300s", got, want.String())
	}
	var noID, mapped int
	for _, f := range o.failures {
		switch {
		case f.Stage == StageEntityID && f.EntityID == "":
			noID++
		case f.Stage == "steps[1].map" && wantFailed[f.EntityID]:
			mapped++
		default:
			t.Errorf("unexpected failure %+v", f)
		}
	}
	if noID != n/7 || mapped != len(wantFailed) {
		t.Fatalf("%d entity_id and %d map failures, want %d and %d", noID, mapped, n/7, len(wantFailed))
	}
	if o.res.Read != n || o.res.Failed != int64(noID+mapped) {
		t.Fatalf("counters %+v", o.res.Counters)
	}
}
