package engine

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/connector"
)

// fakeCaller answers {"name": "C<id>"}; it fails the IDs in fail for good,
// and the IDs in flaky with a TransientError (After: after) their first
// flaky[id] calls. It counts the calls in flight at once.
type fakeCaller struct {
	mu       sync.Mutex
	fail     map[string]bool
	flaky    map[string]int
	after    time.Duration
	calls    map[string]int
	inFlight int
	maxSeen  int
	opened   int
	closed   int
	release  chan struct{} // when set, each call waits for it
}

func (f *fakeCaller) Open(context.Context) error { f.opened++; return nil }
func (f *fakeCaller) Close() error               { f.closed++; return nil }
func (f *fakeCaller) Call(ctx context.Context, rec connector.Record) (any, error) {
	id := sprint(rec.Data.(map[string]any)["id"])
	f.mu.Lock()
	f.inFlight++
	f.maxSeen = max(f.maxSeen, f.inFlight)
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[id]++
	n := f.calls[id]
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	if f.release != nil {
		select {
		case <-f.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	switch {
	case f.fail[id]:
		return nil, errors.New("404: no customer " + id)
	case n <= f.flaky[id]:
		return nil, &connector.TransientError{Err: errors.New("503: busy"), After: f.after}
	}
	return map[string]any{"name": "C" + id}, nil
}

func callFlow(onError string) string {
	return `name: t
read: {file: {path: in.ndjson, format: ndjson}}
entity_id: .id
` + onError + `
steps:
  - call: {connection: crm, request: {method: GET, path: "/customers/{{.id}}"}, as: customer}
  - map: '{id, name: .customer.name}'
write: {file: {path: out.ndjson, format: ndjson}}
`
}

func ids(n int) string {
	var sb strings.Builder
	for i := range n {
		sb.WriteString(`{"id":` + sprint(i+1) + "}\n")
	}
	return sb.String()
}

func TestCallStep(t *testing.T) {
	in := ids(20) + "[1,2]\n"
	dir, c, src, sinks := prepare(t, callFlow(""), map[string]string{"in.ndjson": in}, 100)
	fc := &fakeCaller{fail: map[string]bool{"5": true}, release: make(chan struct{})}
	// Let the calls go only once several are waiting, so concurrency is
	// seen without relying on timing.
	go func() {
		for {
			fc.mu.Lock()
			n := fc.inFlight
			fc.mu.Unlock()
			if n >= 3 {
				close(fc.release)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	o := run(t, context.Background(), c, src, sinks, Options{Callers: map[string]connector.Caller{"steps[0]": fc}, CallConcurrency: 3})
	if o.err != nil {
		t.Fatal(o.err)
	}
	if want := (Counters{Read: 21, Succeeded: 19, Failed: 2}); o.res.Counters != want {
		t.Errorf("counters %+v, want %+v", o.res.Counters, want)
	}
	if fc.maxSeen != 3 {
		t.Errorf("at most %d calls in flight, want 3 (CallConcurrency)", fc.maxSeen)
	}
	if fc.opened != 1 || fc.closed < 1 {
		t.Errorf("caller opened %d, closed %d times", fc.opened, fc.closed)
	}
	var want strings.Builder
	for i := range 20 {
		if i+1 != 5 {
			want.WriteString(`{"id":` + sprint(i+1) + `,"name":"C` + sprint(i+1) + `"}` + "\n")
		}
	}
	if got := readOut(t, dir, "out.ndjson"); got != want.String() {
		t.Errorf("out (records must keep their order):\n%s\nwant\n%s", got, want.String())
	}
	if len(o.failures) != 2 {
		t.Fatalf("failures %+v", o.failures)
	}
	f := o.failures[0]
	if f.EntityID != "5" || f.Stage != "steps[0].call" || f.Error != "404: no customer 5" || f.Attempts != 1 {
		t.Errorf("failure %+v", f)
	}
	// [1,2] has no entity ID: it fails there, before any call.
	if f := o.failures[1]; f.Stage != StageEntityID {
		t.Errorf("failure %+v", f)
	}
}

func TestCallNotAnObject(t *testing.T) {
	doc := `name: t
read: {file: {path: in.ndjson, format: ndjson}}
entity_id: .id
steps:
  - map: .id
  - call: {connection: crm, request: {method: GET, path: "/c/{{.}}"}}
write: {file: {path: out.ndjson, format: ndjson}}
`
	_, c, src, sinks := prepare(t, doc, map[string]string{"in.ndjson": ids(2)}, 10)
	fc := &fakeCaller{}
	o := run(t, context.Background(), c, src, sinks, Options{Callers: map[string]connector.Caller{"steps[1]": fc}})
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.res.Failed != 2 || len(fc.calls) != 0 {
		t.Fatalf("counters %+v, calls %v", o.res.Counters, fc.calls)
	}
	if f := o.failures[0]; f.Stage != "steps[1].call" || !strings.Contains(f.Error, `the record is a number, not an object, so the call's answer cannot be kept under "response"`) {
		t.Errorf("failure %+v", f)
	}
}

// sleeps records the waits of a run.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return nil
}

func TestCallRetries(t *testing.T) {
	for _, tc := range []struct {
		name      string
		after     time.Duration
		wantWaits [][2]time.Duration // each wait's bounds
	}{
		// backoff 2s doubling up to 5s, jittered between half and all.
		{name: "backoff", wantWaits: [][2]time.Duration{{time.Second, 2 * time.Second}, {2 * time.Second, 4 * time.Second}, {2500 * time.Millisecond, 5 * time.Second}}},
		// Retry-After above the backoff: never sooner.
		{name: "retry-after", after: 7 * time.Second, wantWaits: [][2]time.Duration{{7 * time.Second, 7 * time.Second}, {7 * time.Second, 7 * time.Second}, {7 * time.Second, 7 * time.Second}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, c, src, sinks := prepare(t, callFlow("on_error: {retries: 3, backoff: 2s, max_backoff: 5s}"), map[string]string{"in.ndjson": ids(4)}, 10)
			// 2 succeeds on its 3rd try; 3 never does; 1 and 4 at once.
			fc := &fakeCaller{flaky: map[string]int{"2": 2, "3": 100}, after: tc.after}
			var sl sleeps
			o := run(t, context.Background(), c, src, sinks, Options{Callers: map[string]connector.Caller{"steps[0]": fc}, Sleep: sl.sleep})
			if o.err != nil {
				t.Fatal(o.err)
			}
			if want := (Counters{Read: 4, Succeeded: 3, Failed: 1}); o.res.Counters != want {
				t.Errorf("counters %+v, want %+v", o.res.Counters, want)
			}
			if got := fc.calls; got["1"] != 1 || got["4"] != 1 || got["2"] != 3 || got["3"] != 4 {
				t.Errorf("calls %v: only the failed records are tried again", got)
			}
			if len(sl.d) != len(tc.wantWaits) {
				t.Fatalf("waits %v, want %d", sl.d, len(tc.wantWaits))
			}
			for i, d := range sl.d {
				if b := tc.wantWaits[i]; d < b[0] || d > b[1] {
					t.Errorf("wait %d is %s, want within %s..%s", i, d, b[0], b[1])
				}
			}
			f := o.failures[0]
			if f.EntityID != "3" || f.Attempts != 4 || f.Error != "503: busy (after 3 retries)" || f.Stage != "steps[0].call" {
				t.Errorf("failure %+v", f)
			}
			want := `{"id":1,"name":"C1"}` + "\n" + `{"id":2,"name":"C2"}` + "\n" + `{"id":4,"name":"C4"}` + "\n"
			if got := readOut(t, dir, "out.ndjson"); got != want {
				t.Errorf("out %q, want %q", got, want)
			}
		})
	}
}

func TestCallRetryAfterTooLong(t *testing.T) {
	_, c, src, sinks := prepare(t, callFlow(""), map[string]string{"in.ndjson": ids(1)}, 10)
	fc := &fakeCaller{flaky: map[string]int{"1": 1}, after: time.Hour}
	var sl sleeps
	o := run(t, context.Background(), c, src, sinks, Options{Callers: map[string]connector.Caller{"steps[0]": fc}, Sleep: sl.sleep})
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.res.Failed != 1 || len(sl.d) != 0 || fc.calls["1"] != 1 {
		t.Fatalf("counters %+v, waits %v, calls %v", o.res.Counters, sl.d, fc.calls)
	}
	if f := o.failures[0]; f.Attempts != 1 || !strings.Contains(f.Error, "503: busy; the destination asked to wait 1h0m0s before trying again, longer than a run waits (10m0s): reprocess the record later") {
		t.Errorf("failure %+v", f)
	}
}

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		base, maxWait time.Duration
		try           int
		want          time.Duration
	}{
		{time.Second, time.Minute, 1, time.Second},
		{time.Second, time.Minute, 4, 8 * time.Second},
		{time.Second, 5 * time.Second, 4, 5 * time.Second},
		{time.Second, time.Minute, 1000, time.Minute},
		{0, 0, 3, time.Millisecond},
	} {
		if got := backoff(tc.base, tc.maxWait, tc.try); got != tc.want {
			t.Errorf("backoff(%s, %s, %d) = %s, want %s", tc.base, tc.maxWait, tc.try, got, tc.want)
		}
	}
	for range 1000 {
		if d := jitter(10 * time.Second); d < 5*time.Second || d > 10*time.Second {
			t.Fatalf("jitter(10s) = %s", d)
		}
	}
}

// panicCaller panics on the record with id 2 and answers the others.
type panicCaller struct{ fakeCaller }

func (p *panicCaller) Call(ctx context.Context, rec connector.Record) (any, error) {
	if sprint(rec.Data.(map[string]any)["id"]) == "2" {
		panic("a bug met on customer secret-value-2")
	}
	return p.fakeCaller.Call(ctx, rec)
}

// TestCallPanicFailsTheRecord: a caller that panics on one record, on one
// of the call goroutines, fails that record alone; the run goes on and the
// panic's value (which may quote the record) is not in the failure.
func TestCallPanicFailsTheRecord(t *testing.T) {
	_, c, src, sinks := prepare(t, callFlow(""), map[string]string{"in.ndjson": ids(10)}, 100)
	pc := &panicCaller{}
	o := run(t, context.Background(), c, src, sinks, Options{Callers: map[string]connector.Caller{"steps[0]": pc}, CallConcurrency: 4})
	if o.err != nil {
		t.Fatal(o.err)
	}
	if want := (Counters{Read: 10, Succeeded: 9, Failed: 1}); o.res.Counters != want {
		t.Errorf("counters %+v, want %+v", o.res.Counters, want)
	}
	if len(o.failures) != 1 || o.failures[0].EntityID != "2" || !strings.Contains(o.failures[0].Error, "internal error") ||
		strings.Contains(o.failures[0].Error, "secret-value") {
		t.Errorf("failures %+v", o.failures)
	}
}
