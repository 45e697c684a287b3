package http

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/flow"
)

const flowDoc = `
name: orders
read:
  connection: shop
  request: {method: GET, path: /pages, query: {status: open}}
  records: .orders[]
  paginate: {style: page, size: 10, size_param: per_page}
  fetch_one: {method: GET, path: "/orders/{{entity_id}}"}
  incremental: {cursor: .updated, param: since}
entity_id: .id
steps:
  - switch:
      - when: .id > 100
        steps: [{write: {connection: shop, request: {method: POST, path: /big}}}]
  - call: {connection: shop, request: {method: GET, path: "/customers/{{.id}}"}, as: customer}
write: {connection: shop, request: {method: POST, path: /bulk, body: "{sku: .id}"}, batch: 2}
`

// TestFromFlow: a flow's compiled read and write, and its text turned
// into settings, make the same sources and sinks.
func TestFromFlow(t *testing.T) {
	c, err := flow.Load([]byte(flowDoc))
	if err != nil {
		t.Fatal(err)
	}
	srv := paged(t)
	env := connector.Env{BatchSize: 7}

	compiled, err := NewSourceFrom(env, srv.conn(nil), c.Read)
	if err != nil {
		t.Fatal(err)
	}
	_ = compiled.Open(context.Background())
	fromCompiled, _, err := readAll(t, compiled)
	if err != nil {
		t.Fatal(err)
	}
	viaText := mustSource(t, srv.conn(nil), env, ReadSettings(c.Flow.Read, ""))
	fromText, _, err := readAll(t, viaText)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromCompiled, seq(0, total)) || !reflect.DeepEqual(fromText, fromCompiled) {
		t.Fatalf("compiled read %v, settings read %v", fromCompiled, fromText)
	}
	if v, ok := compiled.Cursor(); !ok || v == "" {
		t.Fatalf("the compiled read is not incremental: %q", v)
	}
	srv.mu.Lock()
	if q := srv.requests[0].URL.Query(); q.Get("status") != "open" || q.Get("page") != "1" || q.Get("per_page") != "10" || q.Has("since") {
		t.Fatalf("first page request %s", srv.requests[0].URL)
	}
	srv.mu.Unlock()

	writes, calls := StepSources(c.Flow)
	if len(writes) != 2 || writes["write"] == nil || writes["steps[0].switch[0].steps[0]"] == nil || calls["steps[1]"] == nil {
		t.Fatalf("StepSources: writes %v, calls %v", writes, calls)
	}
	steps := c.Steps
	last := steps[len(steps)-1]
	sink, err := NewSinkFrom(env, srv.conn(nil), last.Write)
	if err != nil || sink.batch != 2 || sink.req.Body == nil {
		t.Fatalf("NewSinkFrom: %+v, %v", sink, err)
	}
	textSink, err := NewSink(env, srv.conn(nil), WriteSettings(writes["write"]))
	if err != nil || textSink.batch != 2 || textSink.req.Body == nil {
		t.Fatalf("NewSink(WriteSettings): %+v, %v", textSink, err)
	}
	if _, err := NewCaller(env, srv.conn(nil), CallSettings(calls["steps[1]"])); err != nil {
		t.Fatalf("NewCaller(CallSettings): %v", err)
	}
	if _, err := NewCallerFrom(env, srv.conn(nil), steps[1].Call); err != nil {
		t.Fatalf("NewCallerFrom: %v", err)
	}
	if _, err := NewSourceFrom(env, srv.conn(nil), &flow.CompiledRead{Kind: flow.KindSQL}); err == nil {
		t.Fatal("NewSourceFrom took an sql read")
	}
}

func TestSetSince(t *testing.T) {
	c, err := flow.Load([]byte(flowDoc))
	if err != nil {
		t.Fatal(err)
	}
	var since []string
	srv := paged(t)
	src, _ := NewSourceFrom(connector.Env{}, srv.conn(nil), c.Read)
	if err := src.SetSince("2026-01-20"); err != nil {
		t.Fatal(err)
	}
	_ = src.Open(context.Background())
	if err := src.SetSince("x"); err == nil {
		t.Fatal("SetSince after Open")
	}
	if _, _, err := readAll(t, src); err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	for _, r := range srv.requests {
		since = append(since, r.URL.Query().Get("since"))
	}
	srv.mu.Unlock()
	if len(since) == 0 || strings.Join(since, ",") != strings.TrimSuffix(strings.Repeat("2026-01-20,", len(since)), ",") {
		t.Fatalf("since sent %v", since)
	}
	if v, _ := src.Cursor(); v != "2026-01-23" {
		t.Fatalf("Cursor() = %q", v)
	}
}
