package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/connector"
	_ "github.com/sluice-dev/sluice/internal/connectors/file"
	"github.com/sluice-dev/sluice/internal/flow"
)

type outcome struct {
	res      Result
	err      error
	failures []Failure
	logs     []LogEntry
	progress int
}

// prepare loads a flow that reads and writes files, writes the input
// files under a new files directory, and builds the source and sinks from
// the file connector.
func prepare(t *testing.T, doc string, files map[string]string, batch int) (string, *flow.Compiled, connector.Source, map[string]connector.Sink) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, err := flow.Load([]byte(doc))
	if err != nil {
		t.Fatalf("flow: %v", err)
	}
	kind, err := connector.Lookup("file")
	if err != nil {
		t.Fatal(err)
	}
	env := connector.Env{FilesDir: dir, BatchSize: batch}
	src, err := kind.NewSource(env, map[string]any{"path": c.Read.File.Path, "format": c.Read.File.Format})
	if err != nil {
		t.Fatal(err)
	}
	sinks := map[string]connector.Sink{}
	for _, s := range WriteSteps(c) {
		sink, err := kind.NewSink(env, map[string]any{"path": s.Write.File.Path, "format": s.Write.File.Format})
		if err != nil {
			t.Fatal(err)
		}
		sinks[s.Path] = sink
	}
	return dir, c, src, sinks
}

func run(t *testing.T, ctx context.Context, c *flow.Compiled, src connector.Source, sinks map[string]connector.Sink, opts Options) outcome {
	t.Helper()
	var o outcome
	opts.OnFailure = func(f Failure) { o.failures = append(o.failures, f) }
	opts.OnLog = func(l LogEntry) { o.logs = append(o.logs, l) }
	opts.OnProgress = func(c Counters, _ connector.Position) {
		o.progress++
		if c.Read != c.Succeeded+c.Failed+c.Skipped {
			t.Errorf("progress counters do not add up: %+v", c)
		}
	}
	o.res, o.err = Run(ctx, c, src, sinks, opts)
	if r := o.res.Counters; r.Read != r.Succeeded+r.Failed+r.Skipped {
		t.Errorf("counters do not add up: %+v", r)
	}
	if int64(len(o.failures)) != o.res.Failed {
		t.Errorf("%d failures reported, %d counted", len(o.failures), o.res.Failed)
	}
	return o
}

func readOut(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const orders = `{"id":1,"total":10,"lines":[{"sku":"a"},{"sku":"b"}]}
{"id":2,"total":0,"lines":[]}
{"id":3,"total":25,"lines":[{"sku":"c"}]}
`

func flowDoc(steps string) string {
	return `name: t
read: {file: {path: in.ndjson, format: ndjson}}
entity_id: .id
steps:
` + steps + `
write: {file: {path: out.ndjson, format: ndjson}}
`
}

func TestSteps(t *testing.T) {
	tests := []struct {
		name     string
		steps    string
		input    string
		want     string // out.ndjson
		counts   Counters
		failures []Failure // Meta ignored
		logs     []string  // Step=Value as JSON-ish %v
	}{
		{
			name:   "filter",
			steps:  `  - filter: '.total > 0'`,
			want:   `{"id":1,"lines":[{"sku":"a"},{"sku":"b"}],"total":10}` + "\n" + `{"id":3,"lines":[{"sku":"c"}],"total":25}` + "\n",
			counts: Counters{Read: 3, Succeeded: 2, Skipped: 1},
		},
		{
			name:   "filter non-boolean skips",
			steps:  `  - filter: '.total'`,
			want:   "",
			counts: Counters{Read: 3, Skipped: 3},
		},
		{
			name:   "map",
			steps:  `  - map: '{order: (.id|tostring), amount: .total}'`,
			want:   `{"amount":10,"order":"1"}` + "\n" + `{"amount":0,"order":"2"}` + "\n" + `{"amount":25,"order":"3"}` + "\n",
			counts: Counters{Read: 3, Succeeded: 3},
		},
		{
			name:     "map giving nothing or several values fails",
			steps:    `  - map: 'if .id == 1 then empty elif .id == 2 then (1,2) else {id} end'`,
			want:     `{"id":3}` + "\n",
			counts:   Counters{Read: 3, Succeeded: 1, Failed: 2},
			failures: []Failure{{EntityID: "1", Stage: "steps[0].map", Error: "map gave no value (use filter to drop records)"}, {EntityID: "2", Stage: "steps[0].map", Error: "map gave more than one value (use foreach to make several records)"}},
		},
		{
			name:   "foreach",
			steps:  "  - foreach: '.id as $id | .lines[] | {id: $id, sku}'",
			want:   `{"id":1,"sku":"a"}` + "\n" + `{"id":1,"sku":"b"}` + "\n" + `{"id":3,"sku":"c"}` + "\n",
			counts: Counters{Read: 3, Succeeded: 2, Skipped: 1}, // id 2 has no lines
		},
		{
			name: "foreach with one element failing fails its source record once",
			steps: "  - foreach: '.id as $id | .lines[] | {id: $id, sku}'\n" +
				`  - fail: 'if .sku == "b" or .sku == "a" then "bad sku " + .sku else empty end'`,
			want:     `{"id":3,"sku":"c"}` + "\n",
			counts:   Counters{Read: 3, Succeeded: 1, Failed: 1, Skipped: 1},
			failures: []Failure{{EntityID: "1", Stage: "steps[1].fail", Error: "bad sku a (and 1 more of its foreach records failed)"}},
		},
		{
			name: "switch keeps order and runs the first matching case",
			steps: `  - switch:
      - when: '.total > 20'
        steps: [{map: '{big: .id}'}]
      - when: '.total > 5'
        steps: [{map: '{mid: .id}'}]
      - when: 'true'
        steps: [{filter: 'false'}]`,
			want:   `{"mid":1}` + "\n" + `{"big":3}` + "\n",
			counts: Counters{Read: 3, Succeeded: 2, Skipped: 1},
		},
		{
			name:   "switch without a matching case passes the record on",
			steps:  "  - switch:\n      - when: '.id == 2'\n        steps: [{map: '{two: true}'}]\n  - map: '{id: (.id // 0), two}'",
			want:   `{"id":1,"two":null}` + "\n" + `{"id":0,"two":true}` + "\n" + `{"id":3,"two":null}` + "\n",
			counts: Counters{Read: 3, Succeeded: 3},
		},
		{
			name:     "fail",
			steps:    `  - fail: 'if (.lines | length) == 0 then "order has no lines" else empty end'`,
			want:     `{"id":1,"lines":[{"sku":"a"},{"sku":"b"}],"total":10}` + "\n" + `{"id":3,"lines":[{"sku":"c"}],"total":25}` + "\n",
			counts:   Counters{Read: 3, Succeeded: 2, Failed: 1},
			failures: []Failure{{EntityID: "2", Stage: "steps[0].fail", Error: "order has no lines"}},
		},
		{
			name:   "fail with null, false and empty string passes",
			steps:  `  - fail: 'if .id == 1 then null elif .id == 2 then false else "" end'`,
			want:   `{"id":1,"lines":[{"sku":"a"},{"sku":"b"}],"total":10}` + "\n" + `{"id":2,"lines":[],"total":0}` + "\n" + `{"id":3,"lines":[{"sku":"c"}],"total":25}` + "\n",
			counts: Counters{Read: 3, Succeeded: 3},
		},
		{
			name:   "log",
			steps:  "  - log: '{id, n: (.lines|length)}'\n  - map: '{id}'",
			want:   `{"id":1}` + "\n" + `{"id":2}` + "\n" + `{"id":3}` + "\n",
			counts: Counters{Read: 3, Succeeded: 3},
			logs:   []string{"1 steps[0] map[id:1 n:2]", "2 steps[0] map[id:2 n:0]", "3 steps[0] map[id:3 n:1]"},
		},
		{
			name:   "respond does nothing in a batch flow",
			steps:  "  - respond: '{ok: true}'\n  - map: '{id}'",
			want:   `{"id":1}` + "\n" + `{"id":2}` + "\n" + `{"id":3}` + "\n",
			counts: Counters{Read: 3, Succeeded: 3},
		},
		{
			name:  "bad input: jq error, no entity ID, malformed line",
			steps: `  - map: '{id, t: (.total + 1)}'`,
			input: `{"id":1,"total":1}
{"id":2,"total":"x"}
{"total":5}
{"id":"","total":5}
{"id":3,"total":
{"id":4,"total":4}
`,
			want:   `{"id":1,"t":2}` + "\n" + `{"id":4,"t":5}` + "\n",
			counts: Counters{Read: 6, Succeeded: 2, Failed: 4},
			failures: []Failure{
				{EntityID: "2", Stage: "steps[0].map", Error: "jq: cannot add: string and number"},
				{EntityID: "", Stage: "entity_id", Error: "entity_id is null"},
				{EntityID: "", Stage: "entity_id", Error: "entity_id is empty"},
				{EntityID: "", Stage: "read", Error: "?"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input := tt.input
			if input == "" {
				input = orders
			}
			dir, c, src, sinks := prepare(t, flowDoc(tt.steps), map[string]string{"in.ndjson": input}, 2)
			o := run(t, context.Background(), c, src, sinks, Options{})
			if o.err != nil {
				t.Fatalf("run: %v", o.err)
			}
			if o.res.Counters != tt.counts {
				t.Errorf("counters %+v, want %+v", o.res.Counters, tt.counts)
			}
			if got := readOut(t, dir, "out.ndjson"); got != tt.want {
				t.Errorf("out.ndjson:\n%s\nwant:\n%s", got, tt.want)
			}
			if len(o.failures) != len(tt.failures) {
				t.Fatalf("failures %+v, want %+v", o.failures, tt.failures)
			}
			for i, f := range o.failures {
				w := tt.failures[i]
				if f.EntityID != w.EntityID || f.Stage != w.Stage || (w.Error != "?" && f.Error != w.Error) || f.Error == "" {
					t.Errorf("failure %d: %+v, want %+v", i, f, w)
				}
				if f.Meta.Line == 0 {
					t.Errorf("failure %d has no line: %+v", i, f)
				}
			}
			var logs []string
			for _, l := range o.logs {
				logs = append(logs, strings.TrimSpace(strings.Join([]string{l.EntityID, l.Step, fmtValue(l.Value)}, " ")))
			}
			if strings.Join(logs, "|") != strings.Join(tt.logs, "|") {
				t.Errorf("logs %q, want %q", logs, tt.logs)
			}
			if o.progress != (int(tt.counts.Read)+1)/2 {
				t.Errorf("%d progress calls for batches of 2", o.progress)
			}
		})
	}
}

func fmtValue(v any) string { return sprint(v) }

// TestSinkFailsOneRecord writes CSV whose columns come from the first
// record; a later record with another field is refused by the sink alone.
func TestSinkFailsOneRecord(t *testing.T) {
	doc := `name: t
read: {file: {path: in.ndjson, format: ndjson}}
entity_id: .id
steps:
  - write: {file: {path: out.csv, format: csv}}
  - log: '{id, response}'
`
	in := `{"id":1,"a":"x"}
{"id":2,"a":"y","extra":true}
{"id":3,"a":"z"}
`
	dir, c, src, sinks := prepare(t, doc, map[string]string{"in.ndjson": in}, 10)
	o := run(t, context.Background(), c, src, sinks, Options{})
	if o.err != nil {
		t.Fatal(o.err)
	}
	if want := (Counters{Read: 3, Succeeded: 2, Failed: 1}); o.res.Counters != want {
		t.Errorf("counters %+v, want %+v", o.res.Counters, want)
	}
	if len(o.failures) != 1 || o.failures[0].EntityID != "2" || o.failures[0].Stage != "steps[0].write" || !strings.Contains(o.failures[0].Error, `"extra"`) {
		t.Errorf("failures %+v", o.failures)
	}
	if got, want := readOut(t, dir, "out.csv"), "a,id\nx,1\nz,3\n"; got != want {
		t.Errorf("out.csv %q, want %q", got, want)
	}
	if len(o.logs) != 2 {
		t.Errorf("logs %+v: the failed record must not reach the log step", o.logs)
	}
}

// flaky fails every whole Write call a number of times, then answers
// each record with a response.
type flaky struct {
	connector.Sink
	fails   int
	calls   int
	refuse  string
	written []any
}

func (f *flaky) Open(context.Context) error  { return nil }
func (f *flaky) Flush(context.Context) error { return nil }
func (f *flaky) Close() error                { return nil }
func (f *flaky) Write(_ context.Context, recs []connector.Record) ([]connector.Outcome, error) {
	f.calls++
	if f.calls <= f.fails {
		return nil, errors.New("destination down")
	}
	out := make([]connector.Outcome, len(recs))
	for i, r := range recs {
		id := sprint(r.Data.(map[string]any)["id"])
		if id == f.refuse {
			out[i].Err = errors.New("400: refused")
			continue
		}
		f.written = append(f.written, r.Data)
		out[i].Response = map[string]any{"erp_id": "E" + id}
	}
	return out, nil
}

func TestWriteResponseAndRetries(t *testing.T) {
	doc := `name: t
read: {file: {path: in.ndjson, format: ndjson}}
entity_id: .id
on_error: {retries: 2, backoff: 1s}
steps:
  - write: {file: {path: ignored.ndjson, format: ndjson}}
  - map: '{id, erp: .response.erp_id}'
write: {file: {path: out.ndjson, format: ndjson}}
`
	for _, tc := range []struct {
		fails       int
		wantFailed  int64
		wantSleeps  int
		wantWritten string
	}{
		{fails: 2, wantFailed: 1, wantSleeps: 2, wantWritten: `{"erp":"E1","id":1}` + "\n" + `{"erp":"E3","id":3}` + "\n"},
		{fails: 3, wantFailed: 3, wantSleeps: 2, wantWritten: ""},
	} {
		dir, c, src, sinks := prepare(t, doc, map[string]string{"in.ndjson": `{"id":1}` + "\n" + `{"id":2}` + "\n" + `{"id":3}` + "\n"}, 10)
		fl := &flaky{fails: tc.fails, refuse: "2"}
		sinks["steps[0]"] = fl
		sleeps := 0
		o := run(t, context.Background(), c, src, sinks, Options{Sleep: func(context.Context, time.Duration) error { sleeps++; return nil }})
		if o.err != nil {
			t.Fatal(o.err)
		}
		if o.res.Failed != tc.wantFailed || sleeps != tc.wantSleeps {
			t.Errorf("fails %d: counters %+v, %d sleeps", tc.fails, o.res.Counters, sleeps)
		}
		if got := readOut(t, dir, "out.ndjson"); got != tc.wantWritten {
			t.Errorf("fails %d: out %q, want %q", tc.fails, got, tc.wantWritten)
		}
		if tc.fails == 3 && (len(o.failures) != 3 || !strings.Contains(o.failures[0].Error, "destination down (after 2 retries)")) {
			t.Errorf("failures %+v", o.failures)
		}
	}
}

func TestCancel(t *testing.T) {
	var sb strings.Builder
	for i := range 1000 {
		sb.WriteString(`{"id":` + sprint(i+1) + "}\n")
	}
	dir, c, src, sinks := prepare(t, flowDoc(`  - map: '{id}'`), map[string]string{"in.ndjson": sb.String()}, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	batches := 0
	var o outcome
	opts := Options{OnProgress: func(c Counters, _ connector.Position) {
		batches++
		if c.Read != c.Succeeded+c.Failed+c.Skipped {
			t.Errorf("counters do not add up: %+v", c)
		}
		if batches == 5 {
			cancel()
		}
	}}
	o.res, o.err = Run(ctx, c, src, sinks, opts)
	if !errors.Is(o.err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", o.err)
	}
	if want := (Counters{Read: 50, Succeeded: 50}); o.res.Counters != want {
		t.Errorf("counters %+v, want %+v", o.res.Counters, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.ndjson")); !os.IsNotExist(err) {
		t.Errorf("a cancelled run must leave no replaced file: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("files left: %v", entries)
	}
}

func TestNewRefuses(t *testing.T) {
	doc := `name: t
read: {file: {path: in.ndjson, format: ndjson}}
entity_id: .id
steps:
  - call: {connection: erp, request: {method: GET, path: "/x/{{.id}}"}}
write: {file: {path: out.ndjson, format: ndjson}}
`
	c, err := flow.Load([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(c, nil, Options{})
	if err == nil || !strings.Contains(err.Error(), "steps[0]: no caller for this call") || !strings.Contains(err.Error(), "write: no sink for this write") {
		t.Errorf("New: %v", err)
	}
}

func TestBound(t *testing.T) {
	s := strings.Repeat("é", 2000)
	if got := bound(s, 1000); len([]rune(got)) != 1000 || !strings.HasSuffix(got, "…") {
		t.Errorf("bound: %d runes", len([]rune(got)))
	}
}

func sprint(v any) string { return fmt.Sprint(v) }

// TestSourceBroken: a JSON array broken in the middle stops the read; the
// run fails with the records before it accounted and no output replaced.
func TestSourceBroken(t *testing.T) {
	doc := `name: t
read: {file: {path: in.json, format: json}}
entity_id: .id
write: {file: {path: out.ndjson, format: ndjson}}
`
	dir, c, src, sinks := prepare(t, doc, map[string]string{"in.json": `[{"id":1},{"id":2},{"id":3},{"id":4},{"id":5}, {"id":6 oops`}, 2)
	o := run(t, context.Background(), c, src, sinks, Options{})
	if o.err == nil || !strings.Contains(o.err.Error(), "reading the source") {
		t.Fatalf("err %v", o.err)
	}
	if o.res.Read != o.res.Succeeded || o.res.Read == 0 || o.res.Read > 5 {
		t.Errorf("counters %+v", o.res.Counters)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.ndjson")); !os.IsNotExist(err) {
		t.Errorf("a failed run must not replace the output: %v", err)
	}
}

func TestSourceMissing(t *testing.T) {
	_, c, src, sinks := prepare(t, flowDoc("  - map: '{id}'"), nil, 2)
	o := run(t, context.Background(), c, src, sinks, Options{})
	if o.err == nil || !strings.Contains(o.err.Error(), "opening the source") || o.res.Read != 0 {
		t.Errorf("err %v, counters %+v", o.err, o.res.Counters)
	}
}
