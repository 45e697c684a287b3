package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/itchyny/gojq"

	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/flow"
)

// unit is one source record and what became of the records made of it.
type unit struct {
	n         int // its place in the batch
	entityID  string
	meta      connector.Meta
	src       any // the source record, for scrubbing its values out of errors
	succeeded int
	failed    int
	first     *Failure // the first failure
}

// item is one record in transit.
type item struct {
	u    *unit
	data any
	// tid names the item in a dry run's trace: "" for the source record,
	// "[2]" for the third record a foreach made of it, "[2][0]" below.
	tid string
}

// batch processes one source batch.
type batch struct {
	e     *Engine
	units []unit
	logs  []LogEntry
	items []item
	// tr is the dry run's trace; nil in a run.
	tr *tracer
	// Buffers of write, kept between chunks and batches.
	wres []result
	wrec []connector.Record
}

func (b *batch) reset() {
	clear(b.units) // keep no record past its batch
	b.units = b.units[:0]
	b.logs = b.logs[:0]
	b.items = b.items[:0]
}

func (b *batch) fail(it *item, stage string, err error) { b.failN(it, stage, err, 1) }

// failN fails a record that was tried attempts times.
func (b *batch) failN(it *item, stage string, err error, attempts int) {
	u := it.u
	u.failed++
	if u.first == nil {
		// A run's failure is stored: its error must not carry the
		// record's values. A dry run's is shown beside the record itself,
		// and kept as it is.
		msg := err.Error()
		if b.tr == nil {
			msg = failureError(err, u.src, it.data)
		}
		u.first = &Failure{EntityID: u.entityID, Stage: stage, Error: msg, Meta: u.meta, Attempts: attempts}
	}
	if b.tr != nil {
		b.tr.failed(it, stage, err)
	}
}

// run takes the source records through entity_id and the steps.
func (b *batch) run(ctx context.Context, recs []connector.Record) {
	if cap(b.units) < len(recs) {
		b.units = make([]unit, 0, len(recs))
	}
	b.units = b.units[:len(recs)]
	ids := b.jqEach(ctx, b.e.c.EntityID, len(recs), func(i int) (any, bool) { return recs[i].Data, recs[i].Err == nil }, 1)
	for i := range recs {
		r := &recs[i]
		u := &b.units[i]
		*u = unit{n: i, meta: r.Meta, src: r.Data}
		it := item{u: u, data: r.Data}
		if r.Err != nil {
			b.fail(&it, StageRead, r.Err)
			continue
		}
		id, err := entityID(ids[i])
		if err != nil {
			b.fail(&it, StageEntityID, err)
			continue
		}
		u.entityID = id
		if b.tr != nil {
			b.tr.recs[i].EntityID = id
		}
		b.items = append(b.items, it)
	}
	out := b.steps(ctx, b.e.c.Steps, b.items)
	for i := range out {
		out[i].u.succeeded++
	}
}

// account adds the batch's units to c and reports its failures and logs.
func (b *batch) account(c *Counters) {
	o := &b.e.opts
	if o.OnLog != nil {
		for _, l := range b.logs {
			o.OnLog(l)
		}
	}
	for i := range b.units {
		u := &b.units[i]
		c.Read++
		if st := b.e.statuses; st != nil && u.n < len(st) {
			st[u.n] = unitStatus(u)
		}
		switch {
		case u.failed > 0:
			c.Failed++
			if o.OnFailure != nil {
				f := *u.first
				if u.failed > 1 {
					f.Error = fmt.Sprintf("%s (and %d more of its foreach records failed)", f.Error, u.failed-1)
				}
				f.Error = bound(f.Error, o.MaxErrorLen)
				o.OnFailure(f)
			}
		case u.succeeded > 0:
			c.Succeeded++
		default:
			c.Skipped++
		}
	}
}

// entityID is the entity ID the entity_id expression gave.
func entityID(r jqResult) (string, error) {
	vs, err := r.vs, r.err
	if err != nil {
		return "", err
	}
	if len(vs) == 0 {
		return "", errors.New("entity_id gave no value")
	}
	if len(vs) > 1 {
		return "", errors.New("entity_id gave more than one value")
	}
	id, err := idText(vs[0])
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(id) == "" {
		return "", errors.New("entity_id is empty")
	}
	return id, nil
}

func idText(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	case int:
		return strconv.Itoa(x), nil
	case *big.Int:
		return x.String(), nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10), nil
		}
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case nil:
		return "", errors.New("entity_id is null")
	default:
		return "", fmt.Errorf("entity_id gave %s, not a string or a number", kindOf(v))
	}
}

func kindOf(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	case string:
		return "a string"
	default:
		return "a number"
	}
}

// steps runs steps on the items in order and gives the items that reached
// the end of them, in order.
func (b *batch) steps(ctx context.Context, steps []flow.CompiledStep, items []item) []item {
	on := b.e.opts.OnStep
	if on != nil && b.tr == nil {
		for _, it := range items {
			on(StepRecord{Step: "read", EntityID: it.u.entityID, Value: it.data})
		}
	}
	for i := range steps {
		if len(items) == 0 {
			return items
		}
		items = b.step(ctx, &steps[i], items)
		if on != nil && b.tr == nil {
			for _, it := range items {
				on(StepRecord{Step: steps[i].Path, EntityID: it.u.entityID, Value: it.data})
			}
		}
	}
	return items
}

// StepRecord is a record as a step left it (Options.OnStep).
type StepRecord struct {
	// Step is the step's path in the flow ("steps[1]"), or "read" for
	// the record as the source gave it.
	Step     string
	EntityID string
	Value    any
}

func (b *batch) step(ctx context.Context, s *flow.CompiledStep, in []item) []item {
	stage := s.Path + "." + string(s.Kind)
	if s.Path == "write" {
		stage = "write"
	}
	switch s.Kind {
	case flow.StepWrite:
		if b.tr != nil {
			return b.dryWrite(ctx, s, stage, in)
		}
		return b.write(ctx, s, stage, in)
	case flow.StepCall:
		return b.call(ctx, s, stage, in)
	case flow.StepSwitch:
		return b.switchStep(ctx, s, stage, in)
	case flow.StepRespond:
		if b.tr != nil {
			b.tr.respond(ctx, s, in)
			return in
		}
		if b.e.answers != nil {
			return b.respond(ctx, s, stage, in)
		}
		return in
	}
	out := in[:0:0]
	if s.Kind == flow.StepFilter || s.Kind == flow.StepMap || s.Kind == flow.StepFail {
		out = in[:0] // at most one out per in: filter in place
	}
	limit := 1
	if s.Kind == flow.StepForeach {
		limit = b.e.opts.MaxFanOut
	} else if s.Kind == flow.StepLog {
		limit = math.MaxInt - 1
	}
	res := b.jqEach(ctx, s.Expr, len(in), func(i int) (any, bool) { return in[i].data, true }, limit)
	for i, it := range in {
		vs, err := res[i].vs, res[i].err
		if err != nil {
			b.fail(&it, stage, err)
			continue
		}
		switch s.Kind {
		case flow.StepFilter:
			if len(vs) > 0 && vs[0] == true {
				out = append(out, it)
				if b.tr != nil {
					b.tr.step(&it, s, StepOK, it.data, nil)
				}
			} else if b.tr != nil {
				b.tr.step(&it, s, StepSkipped, nil, nil)
			}
		case flow.StepMap:
			switch len(vs) {
			case 0:
				b.fail(&it, stage, errors.New("map gave no value (use filter to drop records)"))
			case 1:
				it.data = vs[0]
				out = append(out, it)
				if b.tr != nil {
					b.tr.step(&it, s, StepOK, it.data, nil)
				}
			default:
				b.fail(&it, stage, errors.New("map gave more than one value (use foreach to make several records)"))
			}
		case flow.StepFail:
			if msg, failed := failMessage(vs); failed {
				b.fail(&it, stage, errors.New(msg))
				continue
			}
			out = append(out, it)
			if b.tr != nil {
				b.tr.step(&it, s, StepOK, it.data, nil)
			}
		case flow.StepForeach:
			if len(vs) > limit {
				b.fail(&it, stage, fmt.Errorf("foreach gave more than %d values", limit))
				continue
			}
			for k, v := range vs {
				child := item{u: it.u, data: v}
				if b.tr != nil {
					child.tid = it.tid + "[" + strconv.Itoa(k) + "]"
				}
				out = append(out, child)
			}
			if b.tr != nil {
				b.tr.foreach(&it, s, vs)
			}
		case flow.StepLog:
			for _, v := range vs {
				b.logs = append(b.logs, LogEntry{EntityID: it.u.entityID, Step: s.Path, Value: v})
			}
			out = append(out, it)
			if b.tr != nil {
				b.tr.step(&it, s, StepOK, it.data, vs)
			}
		}
	}
	return out
}

// jqResult is what an expression gave on one record.
type jqResult struct {
	vs  []any
	err error
}

// parallelMin is the fewest records per goroutine when jqEach spreads a
// batch's expressions over the CPUs: below it the goroutines cost more
// than they save.
const parallelMin = 64

// jqEach runs code on input(i) for each i below n (skipping those input
// says not to run) with jqValues' limit, and gives the results by i.
// A batch's records are independent and a compiled expression is safe to
// run concurrently, so a large batch runs on up to GOMAXPROCS goroutines:
// with jq the bulk of a map or filter step's cost, a run then uses the
// cores a single loop leaves idle. Dry runs stay on one goroutine. Only
// values are computed here: failures, counters and callbacks stay with
// the caller, on Run's goroutine, in record order.
func (b *batch) jqEach(ctx context.Context, code *gojq.Code, n int, input func(int) (any, bool), limit int) []jqResult {
	res := make([]jqResult, n)
	one := func(from, to int) {
		for i := from; i < to; i++ {
			if v, ok := input(i); ok {
				res[i].err = contained("jq", func() error {
					var err error
					res[i].vs, err = jqValues(ctx, code, v, limit)
					return err
				})
			}
		}
	}
	workers := min(runtime.GOMAXPROCS(0), n/parallelMin)
	if b.tr != nil || workers < 2 {
		one(0, n)
		return res
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { one(w*n/workers, (w+1)*n/workers) })
	}
	wg.Wait()
	return res
}

// contained runs f, turning a panic into an error that fails the record
// being worked on: a bug in jq or a connector, met on one record, must not
// end the process and every run in it (record work runs on goroutines of
// its own, where a panic is not recovered by anyone else). The panic's
// value may quote the record, so the error does not carry it.
func contained(what string, f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s failed with an internal error on this record (a panic, stopped here); the record can be reprocessed once it is fixed", what)
		}
	}()
	return f()
}

func failMessage(vs []any) (string, bool) {
	if len(vs) == 0 {
		return "", false
	}
	switch v := vs[0].(type) {
	case nil:
		return "", false
	case bool:
		if !v {
			return "", false
		}
	case string:
		return v, v != ""
	}
	j, err := json.Marshal(vs[0])
	if err != nil {
		return fmt.Sprint(vs[0]), true
	}
	return string(j), true
}

// switchStep runs each maximal run of consecutive records taking the same
// case through that case's steps, so records keep their order.
func (b *batch) switchStep(ctx context.Context, s *flow.CompiledStep, stage string, in []item) []item {
	cases := make([]int, len(in)) // -1: no case; -2: failed
	for i := range in {
		cases[i] = -1
		for ci := range s.Cases {
			vs, err := jqValues(ctx, s.Cases[ci].When, in[i].data, 1)
			if err != nil {
				b.fail(&in[i], fmt.Sprintf("%s[%d].when", stage, ci), err)
				cases[i] = -2
				break
			}
			if len(vs) > 0 && vs[0] == true {
				cases[i] = ci
				break
			}
		}
		if b.tr != nil && cases[i] != -2 {
			var taken any // nil: no case matched
			if cases[i] >= 0 {
				taken = cases[i]
			}
			b.tr.step(&in[i], s, StepOK, in[i].data, taken)
		}
	}
	var out []item
	for i := 0; i < len(in); {
		j := i + 1
		for j < len(in) && cases[j] == cases[i] {
			j++
		}
		switch ci := cases[i]; {
		case ci == -1:
			out = append(out, in[i:j]...)
		case ci >= 0:
			run := append([]item(nil), in[i:j]...)
			out = append(out, b.steps(ctx, s.Cases[ci].Steps, run)...)
		}
		i = j
	}
	return out
}

// bound cuts s to at most n characters, on a character boundary.
func bound(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
