package engine

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/flow"
)

// previewSink previews each record as a request and fails the test if
// anything is written.
type previewSink struct {
	t *testing.T
	connector.Sink
}

func (p *previewSink) Open(context.Context) error { p.t.Error("a dry run opened a sink"); return nil }
func (p *previewSink) Write(context.Context, []connector.Record) ([]connector.Outcome, error) {
	p.t.Error("a dry run wrote")
	return nil, errors.New("no")
}
func (p *previewSink) Flush(context.Context) error { return nil }
func (p *previewSink) Close() error                { return nil }
func (p *previewSink) Preview(_ context.Context, recs []connector.Record) ([]any, error) {
	out := make([]any, len(recs))
	for i, r := range recs {
		out[i] = map[string]any{"method": "POST", "url": "https://erp.example.com/orders", "body": r.Data}
	}
	return out, nil
}

const dryFlow = `name: t
trigger: {dynamic: {mode: sync}}
entity_id: .id
steps:
  - filter: '.total > 0'
  - call: {connection: crm, request: {method: GET, path: "/c/{{.id}}"}, as: customer}
  - fail: 'if .total > 100 then "too big" else empty end'
  - map: '{id, total, customer, lines}'
  - foreach: '.lines[] | {sku: .}'
  - log: '{sku}'
  - switch:
      - when: '.sku == "b"'
        steps: [{write: {file: {path: b.ndjson, format: ndjson}}}]
  - write: {connection: erp, request: {method: POST, path: /lines}}
  - respond: '{status: "accepted", sku}'
`

func dryEngine(t *testing.T, doc string, opts Options, sinks map[string]connector.Sink) (*Engine, string) {
	t.Helper()
	c, err := flow.Load([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	kind, err := connector.Lookup("file")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range WriteSteps(c) {
		if sinks[s.Path] != nil || s.Write.File == nil {
			continue
		}
		sk, err := kind.NewSink(connector.Env{FilesDir: dir}, map[string]any{"path": s.Write.File.Path, "format": s.Write.File.Format})
		if err != nil {
			t.Fatal(err)
		}
		sinks[s.Path] = sk
	}
	e, err := New(c, sinks, opts)
	if err != nil {
		t.Fatal(err)
	}
	return e, dir
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestDryRun(t *testing.T) {
	sinks := map[string]connector.Sink{"steps[7]": &previewSink{t: t}}
	e, dir := dryEngine(t, dryFlow, Options{DryRun: &DryRun{}}, sinks)
	recs := []any{
		map[string]any{"id": 1, "total": 10, "lines": []any{"a", "b"}},
		map[string]any{"id": 2, "total": 0},
		map[string]any{"id": 3, "total": 500},
		map[string]any{"total": 5},
	}
	got, err := e.DryRun(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("%d traces", len(got))
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a dry run left files: %v", entries)
	}

	r := got[0]
	if r.Status != RecordSucceeded || r.EntityID != "1" || r.Failure != nil {
		t.Errorf("record 0: %+v", r)
	}
	var steps []string
	for _, s := range r.Steps {
		steps = append(steps, s.Path+" "+string(s.Kind)+" "+s.Item+" "+s.Status)
	}
	want := []string{
		"steps[0] filter  ok",
		"steps[1] call  not_made",
		"steps[2] fail  ok",
		"steps[3] map  ok",
		"steps[4] foreach  ok",
		"steps[5] log [0] ok", "steps[5] log [1] ok",
		"steps[6] switch [0] ok", "steps[6] switch [1] ok",
		"steps[6].switch[0].steps[0] write [1] ok",
		"steps[7] write [0] ok", "steps[7] write [1] ok",
		"steps[8] respond [0] ok", "steps[8] respond [1] ok",
	}
	if strings.Join(steps, "\n") != strings.Join(want, "\n") {
		t.Errorf("steps:\n%s\nwant\n%s", strings.Join(steps, "\n"), strings.Join(want, "\n"))
	}
	if o := js(r.Steps[1].Output); o != `{"customer":null,"id":1,"lines":["a","b"],"total":10}` {
		t.Errorf("call not made output %s", o)
	}
	if v := js(r.Steps[4].Value); !strings.Contains(v, `"sku":"a"`) || !strings.Contains(v, `"sku":"b"`) {
		t.Errorf("foreach value %s", v)
	}
	if v := js(r.Steps[5].Value); v != `[{"sku":"a"}]` {
		t.Errorf("log value %s", v)
	}
	if r.Steps[7].Value != nil || r.Steps[8].Value != 0 {
		t.Errorf("switch cases %v, %v", r.Steps[7].Value, r.Steps[8].Value)
	}
	if v := js(r.Steps[13].Value); v != `{"sku":"b","status":"accepted"}` {
		t.Errorf("respond value %s", v)
	}
	if len(r.Writes) != 3 {
		t.Fatalf("writes %+v", r.Writes)
	}
	if w := r.Writes[0]; w.Path != "steps[6].switch[0].steps[0]" || w.Item != "[1]" || w.Previewed || js(w.Sent) != `{"sku":"b"}` {
		t.Errorf("file write %+v", w)
	}
	if w := r.Writes[1]; w.Path != "steps[7]" || !w.Previewed || !strings.Contains(js(w.Sent), `"url":"https://erp.example.com/orders"`) {
		t.Errorf("http write %+v", w)
	}
	if o := js(r.Steps[10].Output); !strings.Contains(o, `"response":null`) {
		t.Errorf("write output %s: null under as", o)
	}

	if r := got[1]; r.Status != RecordSkipped || len(r.Steps) != 1 || r.Steps[0].Status != StepSkipped {
		t.Errorf("record 1: %+v", r)
	}
	if r := got[2]; r.Status != RecordFailed || r.Failure.Stage != "steps[2].fail" || r.Failure.Error != "too big" ||
		r.Steps[len(r.Steps)-1].Status != StepFailed || r.Steps[len(r.Steps)-1].Error != "too big" {
		t.Errorf("record 2: %+v", r)
	}
	if r := got[3]; r.Status != RecordFailed || r.Failure.Stage != StageEntityID || r.EntityID != "" || len(r.Steps) != 0 {
		t.Errorf("record 3: %+v", r)
	}
}

func TestDryRunCalls(t *testing.T) {
	doc := `name: t
read: {file: {path: in.ndjson, format: ndjson}}
entity_id: .id
steps:
  - call: {connection: crm, request: {method: GET, path: "/c/{{.id}}"}, as: customer}
write: {connection: erp, request: {method: POST, path: /x}}
`
	fc := &fakeCaller{flaky: map[string]int{"2": 5}}
	e, _ := dryEngine(t, doc, Options{DryRun: &DryRun{Calls: true, Broken: map[string]error{"write": errors.New(`the project has no connection "erp"`)}},
		Callers: map[string]connector.Caller{"steps[0]": fc}}, map[string]connector.Sink{})
	got, err := e.DryRun(context.Background(), []any{map[string]any{"id": 1}, map[string]any{"id": 2}})
	if err != nil {
		t.Fatal(err)
	}
	if fc.opened != 1 || fc.closed != 1 || fc.calls["1"] != 1 || fc.calls["2"] != 1 {
		t.Errorf("caller opened %d, closed %d, calls %v (a dry run tries once)", fc.opened, fc.closed, fc.calls)
	}
	if r := got[0]; r.Status != RecordFailed || r.Failure.Stage != "write" || !strings.Contains(r.Failure.Error, `no connection "erp"`) ||
		js(r.Steps[0].Output) != `{"customer":{"name":"C1"},"id":1}` {
		t.Errorf("record 0: %+v", r)
	}
	if r := got[1]; r.Status != RecordFailed || r.Failure.Stage != "steps[0].call" || r.Failure.Error != "503: busy" {
		t.Errorf("record 1: %+v", r)
	}

	// A dry-run engine does not Run, and a run engine does not DryRun.
	if _, err := e.Run(context.Background(), &previewSource{}); err == nil {
		t.Error("Run on a dry-run engine")
	}
	e2, _ := dryEngine(t, flowDoc("  - map: '{id}'"), Options{}, map[string]connector.Sink{})
	if _, err := e2.DryRun(context.Background(), nil); err == nil {
		t.Error("DryRun on a run engine")
	}
}

type previewSource struct{ connector.Source }

func (previewSource) Close() error { return nil }

func TestDryRunNeedsSinks(t *testing.T) {
	c, err := flow.Load([]byte(flowDoc("  - map: '{id}'")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(c, nil, Options{DryRun: &DryRun{}}); err == nil || !strings.Contains(err.Error(), "write: no sink") {
		t.Errorf("New: %v", err)
	}
	if _, err := New(c, nil, Options{DryRun: &DryRun{Broken: map[string]error{"write": errors.New("x")}}}); err != nil {
		t.Errorf("New with the write broken: %v", err)
	}
}
