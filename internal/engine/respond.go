package engine

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/flow"
)

// Response is what became of one record given to RunRecords, and what its
// caller is answered.
type Response struct {
	// Status is "succeeded", "failed" or "skipped", as the record was
	// counted.
	Status string
	// Responded says a respond step answered for the record; Value is then
	// its answer: the respond expression's value, or an array of the
	// values when a foreach made several records that each reached a
	// respond step.
	Responded bool
	Value     any
	// Failure is set when the record failed (Status "failed").
	Failure *Failure
}

// Record statuses in a Response.
const (
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusSkipped   = "skipped"
)

// DestinationFailed says the record failed because another system did not
// take it or answer (a write or a call step), as opposed to the flow
// rejecting it (a fail step, a jq error, a bad entity ID): a caller answers
// the first with 502 and the second with 422.
func (r Response) DestinationFailed() bool {
	if r.Failure == nil {
		return false
	}
	st := r.Failure.Stage
	return st == "write" || strings.HasSuffix(st, ".write") || strings.HasSuffix(st, ".call")
}

// RecordsSource is a Source giving records (a dynamic call's body) in one
// batch, each with Meta.Index its 1-based place. It has no position: a
// dynamic run is not resumed from a checkpoint.
func RecordsSource(records []any) connector.Source { return &recordsSource{recs: records} }

type recordsSource struct {
	recs []any
	done bool
}

func (s *recordsSource) Open(context.Context) error { return nil }

func (s *recordsSource) Read(context.Context) ([]connector.Record, connector.Position, error) {
	if s.done || len(s.recs) == 0 {
		return nil, nil, io.EOF
	}
	s.done = true
	out := make([]connector.Record, len(s.recs))
	for i, r := range s.recs {
		out[i] = connector.Record{Data: r, Meta: connector.Meta{Index: int64(i + 1)}}
	}
	return out, nil, nil
}

func (s *recordsSource) Close() error { return nil }

// RunRecords runs records (no Source: the body of a dynamic call) through
// the steps with the real sinks and callers, as Run does, and gives what
// became of each record, in order, with its respond answer. The error is
// Run's: a sink or caller that could not be opened, flushed or closed, or
// ctx ending (jq evaluation honours ctx, so a hostile expression ends with
// it); the responses are then nil.
//
// A respond step's expression gives the record's answer: its first value,
// null when it gives none; a jq error fails the record. The record goes on
// to the next steps, so a write after respond still fails it.
func (e *Engine) RunRecords(ctx context.Context, records []any) (Result, []Response, error) {
	if e.opts.DryRun != nil {
		e.closeAll()
		return Result{}, nil, errors.New("engine: built for a dry run: use DryRun")
	}
	out := make([]Response, len(records))
	e.answers = make([][]any, len(records))
	e.statuses = make([]string, len(records))
	onFailure := e.opts.OnFailure
	e.opts.OnFailure = func(f Failure) {
		if i := int(f.Meta.Index) - 1; i >= 0 && i < len(out) {
			fc := f
			out[i].Failure = &fc
		}
		if onFailure != nil {
			onFailure(f)
		}
	}
	res, err := e.Run(ctx, RecordsSource(records))
	if err != nil {
		return res, nil, err
	}
	if int64(len(records)) != res.Read {
		return res, nil, errors.New("engine: not every record was accounted")
	}
	for i := range out {
		out[i].Status = e.statuses[i]
		if a := e.answers[i]; out[i].Failure == nil && len(a) > 0 {
			out[i].Responded = true
			out[i].Value = a[0]
			if len(a) > 1 {
				out[i].Value = a
			}
		}
	}
	return res, out, nil
}

// respond keeps each item's answer for RunRecords.
func (b *batch) respond(ctx context.Context, s *flow.CompiledStep, stage string, in []item) []item {
	out := in[:0]
	for _, it := range in {
		var v any
		if s.Expr != nil {
			vs, err := jqValues(ctx, s.Expr, it.data, 1)
			if err != nil {
				b.fail(&it, stage, err)
				continue
			}
			if len(vs) > 0 {
				v = vs[0]
			}
		}
		if n := it.u.n; n < len(b.e.answers) {
			b.e.answers[n] = append(b.e.answers[n], v)
		}
		out = append(out, it)
	}
	return out
}

func unitStatus(u *unit) string {
	switch {
	case u.failed > 0:
		return StatusFailed
	case u.succeeded > 0:
		return StatusSucceeded
	}
	return StatusSkipped
}
