package runs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/flow"
	"github.com/sluice-dev/sluice/internal/store"
)

// Defaults of DynamicOptions.
const (
	// DefaultDynamicConcurrency bounds the sync calls of one project
	// running at once.
	DefaultDynamicConcurrency = 16
	// DefaultDynamicOverrun is how long a sync run may go on after its
	// caller was answered 504, before it is cancelled and failed.
	DefaultDynamicOverrun = 5 * time.Minute
)

// DynamicOptions configure dynamic calls (POST /call).
type DynamicOptions struct {
	// Concurrency bounds the sync calls of one project running at once
	// (0: DefaultDynamicConcurrency). A call finding every slot taken
	// waits for one until its flow's timeout, then gets a *BusyError.
	Concurrency int
	// Overrun is how long a sync run goes on after its flow's timeout
	// (0: DefaultDynamicOverrun); past it the run's context ends (jq,
	// writes and calls honour it) and the run is failed.
	Overrun time.Duration
	// Sealer seals async call bodies at rest (the keyring); without one
	// async calls are refused.
	Sealer Sealer
}

// dynamic is the Service's state for dynamic calls.
type dynamic struct {
	mu   sync.Mutex
	opts DynamicOptions
	sems map[string]chan struct{}
	// hook runs inside a sync run before the engine, for tests (a panic
	// or a block there is the run's).
	hook func(ctx context.Context, runID string)
}

// SetDynamic configures dynamic calls; call it before serving any.
func (s *Service) SetDynamic(o DynamicOptions) {
	s.dyn.mu.Lock()
	defer s.dyn.mu.Unlock()
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultDynamicConcurrency
	}
	if o.Overrun <= 0 {
		o.Overrun = DefaultDynamicOverrun
	}
	s.dyn.opts = o
}

func (s *Service) dynOpts() DynamicOptions {
	s.dyn.mu.Lock()
	defer s.dyn.mu.Unlock()
	o := s.dyn.opts
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultDynamicConcurrency
	}
	if o.Overrun <= 0 {
		o.Overrun = DefaultDynamicOverrun
	}
	return o
}

// sem is the project's semaphore of sync calls.
func (s *Service) sem(projectID string, n int) chan struct{} {
	s.dyn.mu.Lock()
	defer s.dyn.mu.Unlock()
	if s.dyn.sems == nil {
		s.dyn.sems = map[string]chan struct{}{}
	}
	c := s.dyn.sems[projectID]
	if c == nil {
		c = make(chan struct{}, n)
		s.dyn.sems[projectID] = c
	}
	return c
}

// Errors of dynamic calls; the API maps each to its status.
var (
	// ErrNotCallable: the flow has no trigger.dynamic (404), or it does
	// not compile any more.
	ErrNotCallable = errors.New("the flow cannot be called: it has no trigger.dynamic")
	// ErrFlowDisabled: the flow is switched off (409).
	ErrFlowDisabled = errors.New("the flow is disabled: enable it to take calls")
	// ErrWrongMode: CallSync on an async flow or CallAsync on a sync one.
	ErrWrongMode = errors.New("the flow's trigger.dynamic.mode is not the one asked for")
)

// TimeoutError says a sync call passed its flow's timeout (504): the run
// goes on (for at most DynamicOptions.Overrun more) and can be looked up
// by RunID.
type TimeoutError struct {
	RunID   string
	Timeout time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("the flow did not answer within %s; the run %s goes on", e.Timeout, e.RunID)
}

// BusyError says every sync call slot of the project stayed taken for the
// whole timeout (503 with Retry-After); no run was made.
type BusyError struct {
	Limit      int
	RetryAfter time.Duration
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("the project already runs %d calls at once; try again later", e.Limit)
}

// CallPanicError says the run panicked (500): the run is failed, and
// nothing else was affected.
type CallPanicError struct{ RunID string }

func (e *CallPanicError) Error() string {
	return "internal error running the flow (run " + e.RunID + ")"
}

// StartError says the run could not start (a connection is missing or
// cannot be opened; 502): the run is failed with Message.
type StartError struct {
	RunID   string
	Message string
}

func (e *StartError) Error() string { return "the flow could not start: " + e.Message }

// CallResult is a sync call's outcome.
type CallResult struct {
	RunID string
	engine.Counters
	// Responses are the records' outcomes and answers, in order.
	Responses []engine.Response
}

// Rejected says some record was rejected by the flow (422).
func (r *CallResult) Rejected() bool {
	for _, x := range r.Responses {
		if x.Failure != nil && !x.DestinationFailed() {
			return true
		}
	}
	return false
}

// DestinationFailed says some record failed on a write or call (502).
func (r *CallResult) DestinationFailed() bool {
	for _, x := range r.Responses {
		if x.DestinationFailed() {
			return true
		}
	}
	return false
}

// callable loads and compiles a dynamic flow of a project.
func (s *Service) callable(ctx context.Context, projectID, flowID, mode string) (*store.Flow, *flow.Compiled, error) {
	f, err := s.st.Reader().FlowInProject(ctx, projectID, flowID)
	if err != nil {
		return nil, nil, err
	}
	c, err := s.flows.get(f)
	if err != nil || c.Mode == "" {
		return nil, nil, ErrNotCallable
	}
	if !f.Enabled {
		return nil, nil, ErrFlowDisabled
	}
	if c.Mode != mode {
		return nil, nil, fmt.Errorf("%w: it is %s", ErrWrongMode, c.Mode)
	}
	return f, c, nil
}

// CallSync runs a sync dynamic flow on records (one for a call with an
// object body, several for an array) in this process, as the consumer
// consumerName, and gives each record's answer. The call holds one of
// the project's slots (DynamicOptions.Concurrency) while its run goes
// on; it waits for a free slot until the flow's timeout, then gets a
// *BusyError.
//
// The run is a row with trigger dynamic and triggered_by consumerName,
// running with a heartbeat like a queued run; its failures keep their
// entity IDs. Past the flow's timeout (trigger.dynamic.timeout) CallSync
// returns a *TimeoutError with the run ID and the run goes on, detached
// from ctx, for at most DynamicOptions.Overrun more. A panic in the run
// fails it and gives a *CallPanicError. A run that cannot start (a
// connection is missing) is failed and gives a *StartError.
func (s *Service) CallSync(ctx context.Context, projectID, flowID, consumerName string, records []any) (*CallResult, error) {
	f, c, err := s.callable(ctx, projectID, flowID, "sync")
	if err != nil {
		return nil, err
	}
	o := s.dynOpts()
	timer := time.NewTimer(c.Timeout)
	defer timer.Stop()
	sem := s.sem(projectID, o.Concurrency)
	select {
	case sem <- struct{}{}:
	case <-timer.C:
		return nil, &BusyError{Limit: o.Concurrency, RetryAfter: time.Second}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	release := func() { <-sem }

	run := &store.Run{ProjectID: projectID, FlowID: f.ID, PipeID: f.PipeID, Trigger: store.TriggerDynamic, TriggeredBy: consumerName}
	err = s.st.InTx(ctx, func(q *store.Q) error {
		if err := q.CreateRun(ctx, run); err != nil {
			return err
		}
		_, err := q.BeginRun(ctx, run.ID, true)
		return err
	})
	if err != nil {
		release()
		return nil, err
	}
	run.Status = store.RunRunning

	type outcome struct {
		res *CallResult
		err error
	}
	done := make(chan outcome, 1)
	rctx, cancel := context.WithTimeoutCause(context.WithoutCancel(ctx), c.Timeout+o.Overrun,
		fmt.Errorf("the run went on %s past the flow's timeout (%s) and was stopped", o.Overrun, c.Timeout))
	go func() {
		defer release()
		defer cancel()
		res, err := s.runSync(rctx, run, c, records)
		done <- outcome{res, err}
	}()
	select {
	case out := <-done:
		return out.res, out.err
	case <-timer.C:
		return nil, &TimeoutError{RunID: run.ID, Timeout: c.Timeout}
	case <-ctx.Done():
		// The caller went away: the run goes on as after a timeout.
		return nil, ctx.Err()
	}
}

// runSync runs a sync run that is running already, and finishes it.
func (s *Service) runSync(ctx context.Context, run *store.Run, c *flow.Compiled, records []any) (res *CallResult, err error) {
	// rec holds the run's failures and log values until the run ends:
	// they are written with its end, in one transaction (a call is one
	// batch, and one commit is most of what a call costs the database).
	var rec *recorder
	finish := func(status, msg string) {
		run.Status, run.Error = status, msg
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		ferr := s.st.InTx(fctx, func(q *store.Q) error {
			if rec != nil {
				if err := q.InsertRunFailures(fctx, rec.failures); err != nil {
					return err
				}
				if err := q.InsertRunLogs(fctx, rec.logs); err != nil {
					return err
				}
			}
			return s.finishTx(fctx, q, run)
		})
		if ferr != nil {
			s.log.Error("runs: finishing a dynamic run", "run", run.ID, "err", ferr)
		}
	}
	defer func() {
		if p := recover(); p != nil {
			// The value may hold record data: the log gets the stack
			// only, and the run a generic message.
			s.log.Error("runs: a dynamic run panicked", "run", run.ID, "stack", string(debug.Stack()))
			finish(store.RunFailed, "internal error (panic): the call was answered 500")
			res, err = nil, &CallPanicError{RunID: run.ID}
		}
	}()

	rctx, _, stop := s.watch(ctx, run.ID)
	defer stop()

	if h := s.dyn.hook; h != nil {
		h(rctx, run.ID)
	}
	e, err := s.dynamicEngine(rctx, run, c)
	if err != nil {
		finish(store.RunFailed, err.Error())
		return nil, &StartError{RunID: run.ID, Message: err.Error()}
	}
	rec = &recorder{s: s, run: run, last: time.Now()}
	e.rec = rec
	result, resps, runErr := e.e.RunRecords(rctx, records)
	run.Read, run.Succeeded, run.Failed, run.Skipped = result.Read, result.Succeeded, result.Failed, result.Skipped
	cause := context.Cause(rctx)
	switch {
	case runErr != nil && errors.Is(cause, errGone):
		return nil, fmt.Errorf("the run %s was deleted or ended elsewhere", run.ID)
	case runErr != nil && errors.Is(cause, errCancelled):
		finish(store.RunCancelled, "cancelled")
		return nil, fmt.Errorf("the run %s was cancelled", run.ID)
	case runErr != nil && cause != nil:
		finish(store.RunFailed, cause.Error())
		return nil, fmt.Errorf("run %s: %w", run.ID, cause)
	case runErr != nil:
		finish(store.RunFailed, runErr.Error())
		return nil, &StartError{RunID: run.ID, Message: runErr.Error()}
	}
	finish(Outcome(result.Counters))
	return &CallResult{RunID: run.ID, Counters: result.Counters, Responses: resps}, nil
}

// dynEngine is an engine whose callbacks keep a run's failures and logs.
type dynEngine struct {
	e   *engine.Engine
	rec *recorder
}

// dynamicEngine builds the sinks, callers and engine of a dynamic run.
func (s *Service) dynamicEngine(ctx context.Context, run *store.Run, c *flow.Compiled) (*dynEngine, error) {
	sinks, err := s.buildSinks(ctx, run.ProjectID, c)
	if err != nil {
		return nil, err
	}
	callers, err := s.buildCallers(ctx, run.ProjectID, c)
	if err != nil {
		for _, sk := range sinks {
			sk.Close()
		}
		return nil, err
	}
	de := &dynEngine{}
	var seq int64
	e, err := engine.New(c, sinks, engine.Options{
		Callers: callers,
		// A sync caller waits: a Retry-After beyond the timeout fails
		// the record at once (it can be reprocessed).
		MaxRetryWait: max(c.Timeout, time.Second),
		OnFailure: func(fl engine.Failure) {
			de.rec.failures = append(de.rec.failures, store.RunFailure{RunID: run.ID, EntityID: fl.EntityID, Stage: fl.Stage, Error: fl.Error, Attempts: fl.Attempts})
		},
		OnLog: func(l engine.LogEntry) {
			v, err := json.Marshal(l.Value)
			if err != nil {
				v, _ = json.Marshal(fmt.Sprint(l.Value))
			}
			seq++
			de.rec.logs = append(de.rec.logs, store.RunLog{RunID: run.ID, Seq: seq, EntityID: l.EntityID, Step: l.Step, Value: string(v)})
		},
	})
	if err != nil {
		for _, sk := range sinks {
			sk.Close()
		}
		for _, cl := range callers {
			cl.Close()
		}
		return nil, err
	}
	de.e = e
	return de, nil
}

// buildSinks makes the sinks of a flow's write steps.
func (s *Service) buildSinks(ctx context.Context, projectID string, c *flow.Compiled) (map[string]connector.Sink, error) {
	env := connector.Env{FilesDir: s.filesDir, Logger: s.log}
	sinks := map[string]connector.Sink{}
	for _, w := range engine.WriteSteps(c) {
		sink, err := s.sink(ctx, projectID, env, w.Write)
		if err != nil {
			for _, sk := range sinks {
				sk.Close()
			}
			return nil, fmt.Errorf("%s: %w", w.Path, err)
		}
		sinks[w.Path] = sink
	}
	return sinks, nil
}

// CallAsync queues a run of an async dynamic flow on records, as the
// consumer consumerName, and gives the queued run at once (202). The
// records are sealed with DynamicOptions.Sealer (bound to the run's row)
// into the dynamic_bodies table, in the transaction that creates the run
// and its job; the job takes the body (reads and deletes it) when it
// begins, so the body is never kept after the run has it, whether the run
// then succeeds or fails.
func (s *Service) CallAsync(ctx context.Context, projectID, flowID, consumerName string, records []any) (*store.Run, error) {
	if s.queue == nil {
		return nil, errors.New("runs: no queue")
	}
	sealer := s.dynOpts().Sealer
	if sealer == nil {
		return nil, errors.New("runs: no keyring to keep async call bodies: async calls are refused")
	}
	f, _, err := s.callable(ctx, projectID, flowID, "async")
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(records)
	if err != nil {
		return nil, fmt.Errorf("runs: encoding the call's body: %w", err)
	}
	run := &store.Run{ID: store.NewID(), ProjectID: projectID, FlowID: f.ID, PipeID: f.PipeID, Trigger: store.TriggerDynamic, TriggeredBy: consumerName}
	sealed, _, err := sealer.SealFor(body, store.DynamicBodiesTable, run.ID, store.DynamicBodyField)
	if err != nil {
		return nil, fmt.Errorf("runs: sealing the call's body: %w", err)
	}
	err = s.st.InTx(ctx, func(q *store.Q) error {
		if err := q.CreateRun(ctx, run); err != nil {
			return err
		}
		if err := q.PutDynamicBody(ctx, run.ID, sealed); err != nil {
			return err
		}
		_, err := s.queue.InsertTx(ctx, q, RunFlowArgs{RunID: run.ID}, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	return run, nil
}

// takeBody reads and deletes an async run's sealed body and opens it. A
// body already taken (an attempt after one that stopped midway) is an
// error: the caller must call again.
func (s *Service) takeBody(ctx context.Context, runID string) ([]any, error) {
	sealer := s.dynOpts().Sealer
	var sealed string
	err := s.st.InTx(ctx, func(q *store.Q) error {
		var err error
		sealed, err = q.TakeDynamicBody(ctx, runID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, errors.New("the call's body is gone: an earlier attempt of this run took it and stopped midway; call the flow again")
	}
	if err != nil {
		return nil, err
	}
	if sealer == nil {
		return nil, errors.New("no keyring to open the call's body")
	}
	plain, err := sealer.OpenFor(sealed, store.DynamicBodiesTable, runID, store.DynamicBodyField)
	if err != nil {
		return nil, fmt.Errorf("opening the call's body: %w", err)
	}
	var records []any
	if err := json.Unmarshal(plain, &records); err != nil {
		return nil, fmt.Errorf("decoding the call's body: %w", err)
	}
	return records, nil
}

// buildDynamic compiles an async dynamic flow and makes its sinks, with
// the call's records as its source.
func (s *Service) buildDynamic(ctx context.Context, run *store.Run, def string) (*flow.Compiled, connector.Source, map[string]connector.Sink, error) {
	records, err := s.takeBody(ctx, run.ID)
	if err != nil {
		return nil, nil, nil, err
	}
	c, err := flow.Load([]byte(def))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("the flow does not compile: %w", err)
	}
	sinks, err := s.buildSinks(ctx, run.ProjectID, c)
	if err != nil {
		return nil, nil, nil, err
	}
	return c, engine.RecordsSource(records), sinks, nil
}

// dropBody deletes an async run's body if still there (best effort: the
// run's deletion cascades to it too).
func (s *Service) dropBody(ctx context.Context, runID string) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.st.Writer().DeleteDynamicBody(dctx, runID); err != nil {
		s.log.Warn("runs: deleting a dynamic call's body", "run", runID, "err", err)
	}
}
