package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/flow"
)

// syncFlow is a sync dynamic flow: a fail step, a map, a write whose
// answer goes under .response, and a respond step.
const syncFlow = `name: t
trigger: {dynamic: {mode: sync}}
entity_id: .id
steps:
  - fail: 'if .total < 0 then "total must not be negative" else null end'
  - foreach: 'if .split then (1, 2) | {id: .} else . end'
  - map: '{id, total: (.total + 0)}'
  - write: {file: {path: out.ndjson, format: ndjson}}
  - respond: '{accepted: .id, erp: .response.erp_id}'
`

func runRecords(t *testing.T, sink *flaky, records ...any) (Result, []Response, []Failure) {
	t.Helper()
	c, err := flow.Load([]byte(syncFlow))
	if err != nil {
		t.Fatal(err)
	}
	var fails []Failure
	e, err := New(c, map[string]connector.Sink{"steps[3]": sink}, Options{OnFailure: func(f Failure) { fails = append(fails, f) }})
	if err != nil {
		t.Fatal(err)
	}
	res, resps, err := e.RunRecords(context.Background(), records)
	if err != nil {
		t.Fatal(err)
	}
	if res.Read != int64(len(records)) || res.Read != res.Succeeded+res.Failed+res.Skipped {
		t.Errorf("counters %+v", res.Counters)
	}
	return res, resps, fails
}

func TestRespond(t *testing.T) {
	t.Run("one record", func(t *testing.T) {
		_, resps, _ := runRecords(t, &flaky{}, map[string]any{"id": 7, "total": 3})
		if len(resps) != 1 || !resps[0].Responded || resps[0].Status != StatusSucceeded {
			t.Fatalf("responses %+v", resps)
		}
		if got := js(resps[0].Value); got != `{"accepted":7,"erp":"E7"}` {
			t.Errorf("answer %s", got)
		}
	})
	t.Run("array", func(t *testing.T) {
		res, resps, _ := runRecords(t, &flaky{},
			map[string]any{"id": 1, "total": 1}, map[string]any{"id": 2, "total": 2, "split": true})
		if res.Succeeded != 2 || len(resps) != 2 {
			t.Fatalf("%+v %+v", res, resps)
		}
		if got := js(resps[0].Value); got != `{"accepted":1,"erp":"E1"}` {
			t.Errorf("first answer %s", got)
		}
		// A foreach made two records of the second: both answers.
		if got := js(resps[1].Value); got != `[{"accepted":1,"erp":"E1"},{"accepted":2,"erp":"E2"}]` {
			t.Errorf("second answer %s", got)
		}
	})
	t.Run("fail step", func(t *testing.T) {
		sink := &flaky{}
		_, resps, fails := runRecords(t, sink, map[string]any{"id": 9, "total": -1})
		r := resps[0]
		if r.Status != StatusFailed || r.Responded || r.Failure == nil || r.Failure.Stage != "steps[0].fail" ||
			r.Failure.EntityID != "9" || !strings.Contains(r.Failure.Error, "negative") {
			t.Fatalf("response %+v", r)
		}
		if r.DestinationFailed() {
			t.Error("a fail step is a rejection, not a destination failure")
		}
		if len(fails) != 1 || len(sink.written) != 0 {
			t.Errorf("failures %+v, written %v", fails, sink.written)
		}
	})
	t.Run("jq error", func(t *testing.T) {
		_, resps, _ := runRecords(t, &flaky{}, map[string]any{"id": 4, "total": "x"})
		r := resps[0]
		if r.Status != StatusFailed || r.Failure == nil || r.Failure.Stage != "steps[2].map" || r.DestinationFailed() {
			t.Fatalf("response %+v", r)
		}
	})
	t.Run("write failure", func(t *testing.T) {
		res, resps, _ := runRecords(t, &flaky{refuse: "2"},
			map[string]any{"id": 1, "total": 1}, map[string]any{"id": 2, "total": 2})
		if res.Succeeded != 1 || res.Failed != 1 {
			t.Errorf("counters %+v", res.Counters)
		}
		r := resps[1]
		if r.Status != StatusFailed || r.Responded || !r.DestinationFailed() || r.Failure.Stage != "steps[3].write" || r.Failure.EntityID != "2" {
			t.Fatalf("response %+v", r)
		}
		if !resps[0].Responded {
			t.Errorf("the first record's answer is lost: %+v", resps[0])
		}
	})
	t.Run("filtered", func(t *testing.T) {
		c, err := flow.Load([]byte(`name: t
trigger: {dynamic: {mode: sync}}
entity_id: .id
steps:
  - filter: '.keep'
  - respond: '.id'
`))
		if err != nil {
			t.Fatal(err)
		}
		e, err := New(c, nil, Options{})
		if err != nil {
			t.Fatal(err)
		}
		res, resps, err := e.RunRecords(context.Background(), []any{map[string]any{"id": 1, "keep": false}})
		if err != nil || res.Skipped != 1 || resps[0].Status != StatusSkipped || resps[0].Responded {
			t.Fatalf("%+v %+v %v", res, resps, err)
		}
	})
}

// TestRunRecordsCancelled: a jq expression that never ends stops with
// the call's context, and the call gets no answer.
func TestRunRecordsCancelled(t *testing.T) {
	c, err := flow.Load([]byte(`name: t
trigger: {dynamic: {mode: sync}}
entity_id: .id
steps:
  - map: 'def f: f; f'
  - respond: '.'
`))
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(c, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, resps, err := e.RunRecords(ctx, []any{map[string]any{"id": 1}}); err == nil || resps != nil {
		t.Fatalf("a cancelled call answered: %v %v", resps, err)
	}
}
