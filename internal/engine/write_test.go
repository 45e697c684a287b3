package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/connector"
)

// busySink refuses the IDs in busy with a TransientError their first
// busy[id] tries, refuses the IDs in bad for good, and fails whole Writes
// while down > 0 (counting down, with After downAfter).
type busySink struct {
	connector.Sink
	busy      map[string]int
	bad       map[string]bool
	after     time.Duration
	down      int
	downAfter time.Duration
	tries     map[string]int
	calls     [][]string // the IDs of each Write
}

func (f *busySink) Open(context.Context) error  { return nil }
func (f *busySink) Flush(context.Context) error { return nil }
func (f *busySink) Close() error                { return nil }
func (f *busySink) Write(_ context.Context, recs []connector.Record) ([]connector.Outcome, error) {
	var got []string
	for _, r := range recs {
		got = append(got, sprint(r.Data.(map[string]any)["id"]))
	}
	f.calls = append(f.calls, got)
	if f.down > 0 {
		f.down--
		return nil, &connector.TransientError{Err: errors.New("connection refused"), After: f.downAfter}
	}
	if f.tries == nil {
		f.tries = map[string]int{}
	}
	out := make([]connector.Outcome, len(recs))
	for i, id := range got {
		f.tries[id]++
		switch {
		case f.bad[id]:
			out[i].Err = errors.New("400: bad record")
		case f.tries[id] <= f.busy[id]:
			out[i].Err = &connector.TransientError{Err: errors.New("429: slow down"), After: f.after}
		default:
			out[i].Response = map[string]any{"erp_id": "E" + id}
		}
	}
	return out, nil
}

const retryWriteFlow = `name: t
read: {file: {path: in.ndjson, format: ndjson}}
entity_id: .id
on_error: {retries: 2, backoff: 1s, max_backoff: 1s}
steps:
  - write: {file: {path: ignored.ndjson, format: ndjson}}
  - map: '{id, erp: .response.erp_id}'
write: {file: {path: out.ndjson, format: ndjson}}
`

func TestWriteRetriesOnlyTransientRecords(t *testing.T) {
	dir, c, src, sinks := prepare(t, retryWriteFlow, map[string]string{"in.ndjson": ids(5)}, 10)
	bs := &busySink{busy: map[string]int{"2": 1, "4": 5}, bad: map[string]bool{"3": true}, after: 3 * time.Second}
	sinks["steps[0]"] = bs
	var sl sleeps
	o := run(t, context.Background(), c, src, sinks, Options{Sleep: sl.sleep})
	if o.err != nil {
		t.Fatal(o.err)
	}
	if want := (Counters{Read: 5, Succeeded: 3, Failed: 2}); o.res.Counters != want {
		t.Errorf("counters %+v, want %+v", o.res.Counters, want)
	}
	want := [][]string{{"1", "2", "3", "4", "5"}, {"2", "4"}, {"4"}}
	if sprint(bs.calls) != sprint(want) {
		t.Errorf("writes %v, want %v", bs.calls, want)
	}
	if len(sl.d) != 2 || sl.d[0] != 3*time.Second || sl.d[1] != 3*time.Second {
		t.Errorf("waits %v: the Retry-After (3s) is longer than the backoff (1s)", sl.d)
	}
	byID := map[string]Failure{}
	for _, f := range o.failures {
		byID[f.EntityID] = f
	}
	if f := byID["3"]; f.Error != "400: bad record" || f.Attempts != 1 || f.Stage != "steps[0].write" {
		t.Errorf("failure of 3: %+v", f)
	}
	if f := byID["4"]; f.Error != "429: slow down (after 2 retries)" || f.Attempts != 3 {
		t.Errorf("failure of 4: %+v", f)
	}
	wantOut := `{"erp":"E1","id":1}` + "\n" + `{"erp":"E2","id":2}` + "\n" + `{"erp":"E5","id":5}` + "\n"
	if got := readOut(t, dir, "out.ndjson"); got != wantOut {
		t.Errorf("out %q, want %q (in order)", got, wantOut)
	}
}

func TestWholeWriteRetryAfter(t *testing.T) {
	_, c, src, sinks := prepare(t, retryWriteFlow, map[string]string{"in.ndjson": ids(2)}, 10)
	bs := &busySink{down: 2, downAfter: 20 * time.Second}
	sinks["steps[0]"] = bs
	var sl sleeps
	o := run(t, context.Background(), c, src, sinks, Options{Sleep: sl.sleep})
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.res.Succeeded != 2 || len(bs.calls) != 3 {
		t.Errorf("counters %+v after %d writes", o.res.Counters, len(bs.calls))
	}
	if len(sl.d) != 2 || sl.d[0] != 20*time.Second || sl.d[1] != 20*time.Second {
		t.Errorf("waits %v, want the Retry-After twice", sl.d)
	}

	// Down for longer than the retries: every record fails, with its tries.
	_, c, src, sinks = prepare(t, retryWriteFlow, map[string]string{"in.ndjson": ids(2)}, 10)
	sinks["steps[0]"] = &busySink{down: 10}
	o = run(t, context.Background(), c, src, sinks, Options{Sleep: sl.sleep})
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.res.Failed != 2 || o.failures[0].Attempts != 3 || o.failures[0].Error != "connection refused (after 2 retries)" {
		t.Errorf("counters %+v, failures %+v", o.res.Counters, o.failures)
	}
}
