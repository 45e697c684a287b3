package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/flow"
)

// DryRun configures an engine built for Engine.DryRun.
type DryRun struct {
	// Calls makes the call steps' requests. Without it a call step is
	// reported as not made and the record goes on with null under its
	// as.
	Calls bool
	// Broken holds the write and call steps whose Sink or Caller could not
	// be built (a connection the project does not have), keyed by Path,
	// with the reason: a record reaching such a write, or such a call
	// when calls are made, fails there with it, as it would in a run.
	Broken map[string]error
}

// Statuses of a StepTrace.
const (
	// StepOK: the step ran and the record went on (Output).
	StepOK = "ok"
	// StepSkipped: a filter dropped the record, or a foreach gave no
	// element.
	StepSkipped = "skipped"
	// StepFailed: the record failed here (Error).
	StepFailed = "failed"
	// StepNotMade: a call a dry run did not make; the record went on with
	// null under the call's as.
	StepNotMade = "not_made"
)

// Statuses of a RecordTrace: what a run would have counted.
const (
	RecordSucceeded = "succeeded"
	RecordFailed    = "failed"
	RecordSkipped   = "skipped"
)

// RecordTrace is what a dry run did with one sample record.
type RecordTrace struct {
	// EntityID is "" when entity_id failed (see Failure).
	EntityID string
	// Status is RecordSucceeded, RecordFailed or RecordSkipped.
	Status string
	// Failure is set when Status is RecordFailed: the stage and error a
	// run would have stored.
	Failure *Failure
	// Steps lists, in the order they ran, what each step did to the
	// record and to the records a foreach made of it.
	Steps []StepTrace
	// Writes lists what each write would have sent.
	Writes []WriteTrace
}

// StepTrace is what one step did to one record.
type StepTrace struct {
	// Path is the step's place in the document ("steps[2]", "write").
	Path string
	Kind flow.StepKind
	// Item names the record a foreach made ("[1]", "[1][0]"); "" for the
	// sample record itself.
	Item string
	// Status is StepOK, StepSkipped, StepFailed or StepNotMade.
	Status string
	// Output is the record after the step (StepOK, StepNotMade).
	Output any
	// Value is what the step gave besides the record: the values a log
	// step kept, the elements a foreach made, the case a switch took (its
	// index, or nil when none matched), the answer a respond step would
	// give.
	Value any
	// Error says why the record failed here, or, for a call not made,
	// why it could not have been made; for a respond step, why its
	// expression failed (the record still goes on: respond does nothing
	// outside sync dynamic flows).
	Error string
}

// WriteTrace is what one write would have sent for one record.
type WriteTrace struct {
	Path string
	Item string
	// Sent is the sink's Preview of the record (the request, the row),
	// or the record itself when the sink cannot preview.
	Sent any
	// Previewed says Sent came from the sink's Preview.
	Previewed bool
}

// tracer collects a dry run's RecordTraces.
type tracer struct {
	recs []RecordTrace
	// maxErr bounds error messages, as in failures.
	maxErr int
}

func (t *tracer) add(it *item, st StepTrace) {
	st.Item = it.tid
	r := &t.recs[it.u.n]
	r.Steps = append(r.Steps, st)
}

func (t *tracer) step(it *item, s *flow.CompiledStep, status string, output, value any) {
	t.add(it, StepTrace{Path: s.Path, Kind: s.Kind, Status: status, Output: output, Value: value})
}

// note adds err to the item's last step.
func (t *tracer) note(it *item, err error) {
	r := &t.recs[it.u.n]
	if n := len(r.Steps); n > 0 {
		r.Steps[n-1].Error = bound(err.Error(), t.maxErr)
	}
}

// failed records the failure of the item at stage ("steps[1].map",
// "steps[3].switch[0].when", "write"); the failures of entity_id and read
// are the record's Failure alone.
func (t *tracer) failed(it *item, stage string, err error) {
	msg := err.Error()
	var path string
	var kind flow.StepKind
	switch k := strings.LastIndex(stage, ".switch["); {
	case stage == StageEntityID || stage == StageRead:
		return
	case stage == "write":
		path, kind = stage, flow.StepWrite
	case strings.HasSuffix(stage, ".when") && k >= 0:
		path, kind = stage[:k], flow.StepSwitch
		msg = stage[k+1:] + ": " + msg
	default:
		k := strings.LastIndexByte(stage, '.')
		path, kind = stage[:max(k, 0)], flow.StepKind(stage[k+1:])
	}
	t.add(it, StepTrace{Path: path, Kind: kind, Status: StepFailed, Error: bound(msg, t.maxErr)})
}

func (t *tracer) foreach(it *item, s *flow.CompiledStep, vs []any) {
	status := StepOK
	if len(vs) == 0 {
		status = StepSkipped
	}
	elems := make([]any, len(vs))
	copy(elems, vs)
	t.add(it, StepTrace{Path: s.Path, Kind: s.Kind, Status: status, Value: elems})
}

// respond shows what a respond step would answer for each item.
func (t *tracer) respond(ctx context.Context, s *flow.CompiledStep, in []item) {
	for i := range in {
		it := &in[i]
		st := StepTrace{Path: s.Path, Kind: s.Kind, Status: StepOK, Output: it.data}
		if s.Expr != nil {
			vs, err := jqValues(ctx, s.Expr, it.data, 1)
			switch {
			case err != nil:
				st.Error = bound(err.Error(), t.maxErr)
			case len(vs) > 0:
				st.Value = vs[0]
			}
		}
		t.add(it, st)
	}
}

// DryRun takes sample records through the steps as Run would, and
// reports what became of each: the output of every step, what every
// write would have sent, and whether a run would have counted it as
// succeeded, failed or skipped. It writes nothing: a write step asks its
// sink for a Preview when the sink is a connector.Previewer (the sinks
// are never opened) and shows the records otherwise, and the record goes
// on with null under the write's as (a file write answers nothing and
// leaves it unchanged). Call steps make their calls only with
// DryRun.Calls, and then each once, with no retry. Log values are in the
// log steps' traces, not given to Options.OnLog.
//
// DryRun closes the sinks and callers when it returns; the engine cannot
// be used again. It returns an error only when it was not built for a
// dry run, a caller could not be opened, or ctx ended.
func (e *Engine) DryRun(ctx context.Context, records []any) (traces []RecordTrace, err error) {
	defer e.closeAll()
	dry := e.opts.DryRun
	if dry == nil {
		return nil, errors.New("engine: not built for a dry run (Options.DryRun)")
	}
	if dry.Calls {
		for _, c := range e.uniqueCallers() {
			if err := c.Open(ctx); err != nil {
				return nil, fmt.Errorf("engine: opening a caller: %w", err)
			}
		}
	}
	recs := make([]connector.Record, len(records))
	for i, r := range records {
		recs[i] = connector.Record{Data: r, Meta: connector.Meta{Index: int64(i + 1)}}
	}
	t := &tracer{recs: make([]RecordTrace, len(records)), maxErr: e.opts.MaxErrorLen}
	b := &batch{e: e, tr: t}
	b.run(ctx, recs)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for i := range b.units {
		u, r := &b.units[i], &t.recs[i]
		switch {
		case u.failed > 0:
			r.Status = RecordFailed
			f := *u.first
			if u.failed > 1 {
				f.Error = fmt.Sprintf("%s (and %d more of its foreach records failed)", f.Error, u.failed-1)
			}
			f.Error = bound(f.Error, e.opts.MaxErrorLen)
			r.Failure = &f
		case u.succeeded > 0:
			r.Status = RecordSucceeded
		default:
			r.Status = RecordSkipped
		}
	}
	return t.recs, nil
}

// dryWrite is a write step in a dry run: it shows what the sink would be
// sent and sends nothing.
func (b *batch) dryWrite(ctx context.Context, s *flow.CompiledStep, stage string, in []item) []item {
	if err := b.e.opts.DryRun.Broken[s.Path]; err != nil {
		for i := range in {
			b.fail(&in[i], stage, err)
		}
		return in[:0]
	}
	recs := make([]connector.Record, len(in))
	for i, it := range in {
		recs[i] = connector.Record{Data: it.data, Meta: it.u.meta}
	}
	sent := make([]any, len(in))
	p, previewed := b.e.sinks[s.Path].(connector.Previewer)
	if previewed {
		vs, err := p.Preview(ctx, recs)
		if err == nil && len(vs) != len(recs) {
			err = fmt.Errorf("the sink previewed %d records for %d", len(vs), len(recs))
		}
		if err != nil {
			for i := range in {
				b.fail(&in[i], stage, fmt.Errorf("preview: %w", err))
			}
			return in[:0]
		}
		copy(sent, vs)
	} else {
		for i, it := range in {
			sent[i] = it.data
		}
	}
	as := s.Write.As
	if as == "" {
		as = flow.DefaultAs
	}
	for i := range in {
		it := &in[i]
		r := &b.tr.recs[it.u.n]
		r.Writes = append(r.Writes, WriteTrace{Path: s.Path, Item: it.tid, Sent: sent[i], Previewed: previewed})
		if m, ok := it.data.(map[string]any); ok && s.Write.Kind != flow.KindFile {
			it.data = withField(m, as, nil)
		}
		b.tr.step(it, s, StepOK, it.data, nil)
	}
	return in
}
