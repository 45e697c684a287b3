// Package engine is the core of a run: it streams the records of a Source
// through a compiled flow's steps to its writes, and says what became of
// each record. It has no database and no HTTP: the runs layer gives it a
// Source and Sinks, and stores what the callbacks report.
//
// # Accounting
//
// Counters count source records. Every record the Source returns is read
// once and ends as exactly one of succeeded, failed or skipped, so
// Read == Succeeded + Failed + Skipped after every batch (in every
// Progress call and in the Result, also after a cancellation or an error).
//
// A foreach step makes several records out of one; they all belong to the
// source record they came from. That source record is failed when any of
// them failed (one Failure is reported, the first, saying how many more
// failed), succeeded when none failed and at least one reached the end of
// the steps, and skipped when all were filtered out (or the foreach gave
// no element).
//
// A batch is accounted as a whole: failures and log entries of a batch are
// reported when the batch is done, just before its Progress call. When the
// context ends in the middle of a batch, that batch is dropped from the
// accounting (it is not counted as read; a retried run reads it again from
// the last checkpoint: delivery is at least once) and Run returns the
// context's error with the counters of the batches before it.
//
// # Steps
//
//   - filter: the record goes on when the expression's first value is
//     true; any other value, or none, skips it.
//   - map: the record becomes the expression's value. No value, or more
//     than one, fails the record (use filter to drop records and foreach
//     to make several).
//   - switch: the steps of the first case whose when gives true run; a
//     record matching no case goes on unchanged. Records keep their order.
//   - foreach: one record per value the expression gives (at most
//     Options.MaxFanOut), each going through the remaining steps.
//   - fail: a non-empty string fails the record with that message; null,
//     false, "" or no value passes it; any other value fails it with the
//     value as JSON.
//   - log: every value the expression gives goes to Options.OnLog.
//   - call: the step's Caller asks another system about the record and
//     its answer goes under the call's As field. The record must be an
//     object. The calls of a batch run concurrently (at most
//     Options.CallConcurrency at once) and the records keep their order.
//   - write: the record goes to the step's Sink; the record is kept, and a
//     non-nil answer (Outcome.Response) goes under the write's As field
//     when the record is an object (files answer nothing, so a record
//     written to a file is unchanged).
//   - respond: in RunRecords, the expression's first value (null when it
//     gives none) is the record's answer to its caller, and the record
//     goes on; a jq error fails the record. Run ignores respond steps,
//     so a sync dynamic flow can also be reprocessed (docs/flows.md).
//
// A jq runtime error fails that record only.
//
// # Retries
//
// A record whose write (Outcome.Err) or call failed with a
// connector.TransientError is tried again, alone or with the others of
// its batch that failed the same way, under the flow's on_error policy:
// at most Retries more times, waiting Backoff before the first retry and
// doubling up to MaxBackoff, each wait drawn at random between half and
// all of it (jitter, so that many runs do not come back at once), and
// never shorter than the TransientError's After (the other system's
// Retry-After). A Retry-After longer than Options.MaxRetryWait is not
// waited for: the record fails at once, to be reprocessed later. A Write
// that fails as a whole is retried the same way with all its records. A
// destination that is down therefore slows a run; each record it never
// took ends failed, with its entity ID, the error and the number of
// tries (Failure.Attempts), and can be reprocessed.
//
// # Dry runs
//
// An engine built with Options.DryRun takes sample records through the
// steps with Engine.DryRun instead of Run: it reports what each step did
// to each record and what each write would have sent, and sends and
// writes nothing (see DryRun).
package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/itchyny/gojq"

	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/flow"
)

// Defaults of Options.
const (
	DefaultMaxErrorLen = 1000
	DefaultMaxFanOut   = 10000
	DefaultWriteBatch  = 1000
	// DefaultCallConcurrency bounds the calls of one call step in flight.
	DefaultCallConcurrency = 8
	// DefaultMaxRetryWait is the longest Retry-After a run waits for.
	DefaultMaxRetryWait = 10 * time.Minute
)

// Stages of a failure that are not a step.
const (
	StageRead     = "read"
	StageEntityID = "entity_id"
)

// Counters are a run's accounting, in source records.
type Counters struct {
	Read      int64 `json:"read"`
	Succeeded int64 `json:"succeeded"`
	Failed    int64 `json:"failed"`
	Skipped   int64 `json:"skipped"`
}

// Failure is one failed source record.
type Failure struct {
	// EntityID is "" when the record had none (a read failure, or an
	// entity_id expression that failed or gave nothing).
	EntityID string
	// Stage is "read", "entity_id" or a step path and kind:
	// "steps[1].map", "steps[3].switch[0].steps[0].write", "write".
	Stage string
	// Error is bounded to Options.MaxErrorLen characters.
	Error string
	// Meta says where the record was in its source.
	Meta connector.Meta
	// Attempts is how many times the failing write or call was tried
	// for this record (1 when it was not retried, and for every other
	// stage).
	Attempts int
}

// LogEntry is one value a log step kept.
type LogEntry struct {
	EntityID string
	// Step is the log step's path, e.g. "steps[4]".
	Step  string
	Value any
}

// Options configure a run. Every callback is called from Run's goroutine.
type Options struct {
	// OnFailure receives each failed source record.
	OnFailure func(Failure)
	// OnLog receives each value of a log step.
	OnLog func(LogEntry)
	// OnStep receives each record as read and as each step leaves it, in
	// order within a batch (a console log capturing records; nil: none).
	// A dry run does not call it.
	OnStep func(StepRecord)
	// OnProgress receives the counters after each batch, with the
	// source's Position after it (nil when the source has none). The
	// position is not a checkpoint until the sinks are flushed.
	OnProgress func(Counters, connector.Position)
	// MaxErrorLen bounds failure messages (0: DefaultMaxErrorLen).
	MaxErrorLen int
	// MaxFanOut bounds the records one foreach makes of one record
	// (0: DefaultMaxFanOut); beyond it the record fails.
	MaxFanOut int
	// WriteBatch bounds the records given to one Sink.Write
	// (0: DefaultWriteBatch).
	WriteBatch int
	// Sleep waits between retries (nil: a timer honouring ctx); for
	// tests.
	Sleep func(ctx context.Context, d time.Duration) error
	// Callers serve the call steps, keyed by the Path of each call step
	// (see CallSteps). The engine opens and closes them; one Caller may
	// serve several call steps.
	Callers map[string]connector.Caller
	// CallConcurrency bounds the calls of one call step in flight at once
	// (0: DefaultCallConcurrency). Calls are made from several
	// goroutines; every callback is still called from Run's.
	CallConcurrency int
	// MaxRetryWait is the longest Retry-After the engine waits for before
	// trying a record again (0: DefaultMaxRetryWait); a longer one fails
	// the record at once.
	MaxRetryWait time.Duration
	// DryRun builds the engine for Engine.DryRun instead of Run.
	DryRun *DryRun
}

// Result is the outcome of a run.
type Result struct {
	Counters
	// Position is the source's position after the last batch accounted.
	Position connector.Position
}

// Engine runs one compiled flow. Build it with New; Run it once.
type Engine struct {
	c     *flow.Compiled
	sinks map[string]connector.Sink
	opts  Options
	// answers collects the respond values of each record in RunRecords,
	// by the record's index; nil in Run.
	answers [][]any
	// statuses is each record's status in RunRecords; nil in Run.
	statuses []string
}

// WriteSteps lists the write steps of a flow, switch cases included, in
// document order: the runs layer builds one Sink for each, keyed by its
// Path.
func WriteSteps(c *flow.Compiled) []*flow.CompiledStep { return stepsOf(c, flow.StepWrite) }

// CallSteps lists the call steps of a flow, switch cases included, in
// document order: the runs layer builds one Caller for each, keyed by its
// Path.
func CallSteps(c *flow.Compiled) []*flow.CompiledStep { return stepsOf(c, flow.StepCall) }

func stepsOf(c *flow.Compiled, kind flow.StepKind) []*flow.CompiledStep {
	var out []*flow.CompiledStep
	var walk func([]flow.CompiledStep)
	walk = func(steps []flow.CompiledStep) {
		for i := range steps {
			s := &steps[i]
			if s.Kind == kind {
				out = append(out, s)
			}
			for _, cs := range s.Cases {
				walk(cs.Steps)
			}
		}
	}
	walk(c.Steps)
	return out
}

// New checks that the engine can run c with these sinks, keyed by the
// Path of each write step (see WriteSteps), and opts.Callers, keyed by
// the Path of each call step (see CallSteps): every write step must have
// a Sink and every call step a Caller. The engine opens and
// closes the sinks and callers; one Sink may serve several write steps.
//
// An engine built for a dry run (opts.DryRun) needs no Caller when it
// makes no calls, and needs no Sink or
// Caller for the steps opts.DryRun.Broken names.
func New(c *flow.Compiled, sinks map[string]connector.Sink, opts Options) (*Engine, error) {
	if c == nil {
		return nil, errors.New("engine: no flow")
	}
	if c.EntityID == nil {
		return nil, errors.New("engine: the flow has no compiled entity_id")
	}
	var errs []error
	dry := opts.DryRun
	broken := func(path string) bool { return dry != nil && dry.Broken[path] != nil }
	var walk func([]flow.CompiledStep)
	walk = func(steps []flow.CompiledStep) {
		for i := range steps {
			s := &steps[i]
			switch s.Kind {
			case flow.StepCall:
				switch {
				case s.Call == nil:
					errs = append(errs, fmt.Errorf("%s: no compiled call", s.Path))
				case opts.Callers[s.Path] == nil && !broken(s.Path) && (dry == nil || dry.Calls):
					errs = append(errs, fmt.Errorf("%s: no caller for this call", s.Path))
				}
			case flow.StepWrite:
				if sinks[s.Path] == nil && !broken(s.Path) {
					errs = append(errs, fmt.Errorf("%s: no sink for this write", s.Path))
				}
			case flow.StepSwitch:
				for _, cs := range s.Cases {
					if cs.When == nil {
						errs = append(errs, fmt.Errorf("%s: a case has no compiled when", s.Path))
					}
					walk(cs.Steps)
				}
			case flow.StepFilter, flow.StepMap, flow.StepForeach, flow.StepFail, flow.StepLog:
				if s.Expr == nil {
					errs = append(errs, fmt.Errorf("%s: no compiled expression", s.Path))
				}
			case flow.StepRespond:
			default:
				errs = append(errs, fmt.Errorf("%s: unknown step kind %q", s.Path, s.Kind))
			}
		}
	}
	walk(c.Steps)
	if len(errs) > 0 {
		return nil, fmt.Errorf("engine: %w", errors.Join(errs...))
	}
	if opts.MaxErrorLen <= 0 {
		opts.MaxErrorLen = DefaultMaxErrorLen
	}
	if opts.MaxFanOut <= 0 {
		opts.MaxFanOut = DefaultMaxFanOut
	}
	if opts.WriteBatch <= 0 {
		opts.WriteBatch = DefaultWriteBatch
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	if opts.CallConcurrency <= 0 {
		opts.CallConcurrency = DefaultCallConcurrency
	}
	if opts.MaxRetryWait <= 0 {
		opts.MaxRetryWait = DefaultMaxRetryWait
	}
	return &Engine{c: c, sinks: sinks, opts: opts}, nil
}

// Run is New and Engine.Run at once.
func Run(ctx context.Context, c *flow.Compiled, src connector.Source, sinks map[string]connector.Sink, opts Options) (Result, error) {
	e, err := New(c, sinks, opts)
	if err != nil {
		return Result{}, err
	}
	return e.Run(ctx, src)
}

// Run opens the source and the sinks, streams every record through the
// steps, and closes them. It returns the counters with a nil error when
// the whole input was read and the sinks closed, whatever became of each
// record; an error when the source could not be opened or read to its
// end, a sink or caller could not be opened, a sink could not be flushed
// or closed, or ctx ended. Then sinks that are Committers are aborted
// (their output is discarded) and the others closed. Callers are closed
// at the end; an error closing one loses nothing and is ignored.
func (e *Engine) Run(ctx context.Context, src connector.Source) (res Result, err error) {
	if e.opts.DryRun != nil {
		src.Close()
		e.closeAll()
		return res, errors.New("engine: built for a dry run: use DryRun")
	}
	sinks := e.uniqueSinks()
	callers := e.uniqueCallers()
	defer func() {
		src.Close()
		for _, c := range callers {
			c.Close()
		}
		for _, s := range sinks {
			if err != nil {
				if cm, ok := s.(connector.Committer); ok {
					cm.Abort()
					continue
				}
			}
			s.Close()
		}
	}()
	if err := src.Open(ctx); err != nil {
		return res, fmt.Errorf("engine: opening the source: %w", err)
	}
	for _, s := range sinks {
		if err := s.Open(ctx); err != nil {
			return res, fmt.Errorf("engine: opening a sink: %w", err)
		}
	}
	for _, c := range callers {
		if err := c.Open(ctx); err != nil {
			return res, fmt.Errorf("engine: opening a caller: %w", err)
		}
	}
	b := &batch{e: e}
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		recs, pos, rerr := src.Read(ctx)
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			if cerr := ctx.Err(); cerr != nil {
				return res, cerr
			}
			return res, fmt.Errorf("engine: reading the source: %w", rerr)
		}
		b.reset()
		b.run(ctx, recs)
		if err := ctx.Err(); err != nil {
			return res, err // the batch is dropped: see the package doc
		}
		b.account(&res.Counters)
		res.Position = pos
		if e.opts.OnProgress != nil {
			e.opts.OnProgress(res.Counters, pos)
		}
	}
	for _, s := range sinks {
		if err := s.Flush(ctx); err != nil {
			return res, fmt.Errorf("engine: flushing a sink: %w", err)
		}
	}
	for _, s := range sinks {
		if err := s.Close(); err != nil {
			return res, fmt.Errorf("engine: closing a sink: %w", err)
		}
	}
	return res, nil
}

func (e *Engine) uniqueSinks() []connector.Sink {
	var out []connector.Sink
	seen := map[connector.Sink]bool{}
	for _, st := range WriteSteps(e.c) {
		s := e.sinks[st.Path]
		if s != nil && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func (e *Engine) uniqueCallers() []connector.Caller {
	var out []connector.Caller
	seen := map[connector.Caller]bool{}
	for _, st := range CallSteps(e.c) {
		c := e.opts.Callers[st.Path]
		if c != nil && !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

// closeAll releases the sinks (aborting Committers) and callers of an
// engine that will not run.
func (e *Engine) closeAll() {
	for _, c := range e.uniqueCallers() {
		c.Close()
	}
	for _, s := range e.uniqueSinks() {
		if cm, ok := s.(connector.Committer); ok {
			cm.Abort()
			continue
		}
		s.Close()
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// jqValues runs code on v, giving at most limit values (limit+1 tells
// there were more).
func jqValues(ctx context.Context, code *gojq.Code, v any, limit int) ([]any, error) {
	iter := code.RunWithContext(ctx, v)
	var out []any
	for {
		x, ok := iter.Next()
		if !ok {
			return out, nil
		}
		if err, isErr := x.(error); isErr {
			return out, jqError(err)
		}
		out = append(out, x)
		if len(out) > limit {
			return out, nil
		}
	}
}

func jqError(err error) error {
	var he *gojq.HaltError
	if errors.As(err, &he) {
		if he.Value() == nil {
			return errors.New("jq: halted")
		}
	}
	return fmt.Errorf("jq: %w", err)
}
