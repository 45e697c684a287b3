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
	"github.com/sluice-dev/sluice/internal/consolelog"
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
	// DefaultDynamicShowRunningAfter is DynamicOptions.ShowRunningAfter's
	// default.
	DefaultDynamicShowRunningAfter = 500 * time.Millisecond
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
	// ShowRunningAfter is how long a sync run of a flow that neither
	// writes nor calls out goes on before its row is written as running
	// (0: DefaultDynamicShowRunningAfter); a shorter one is written once,
	// when it ends.
	ShowRunningAfter time.Duration
}

// dynamic is the Service's state for dynamic calls.
type dynamic struct {
	mu   sync.Mutex
	opts DynamicOptions
	sems map[string]chan struct{}
	// work hands a sync run to an idle worker (goRun).
	work chan func()
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
	if o.ShowRunningAfter <= 0 {
		o.ShowRunningAfter = DefaultDynamicShowRunningAfter
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
	if o.ShowRunningAfter <= 0 {
		o.ShowRunningAfter = DefaultDynamicShowRunningAfter
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
	f, err := s.flowRow(ctx, projectID, flowID)
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
// The run is a row with trigger dynamic and triggered_by consumerName;
// its failures keep their entity IDs. The row is written when the run
// ends, group-committed with the runs of other calls ending at about the
// same time (journal.go), and CallSync returns only once it committed.
// A run is shown running (its row written, with a heartbeat, and it can
// be cancelled) before it ends when its flow writes or calls out — at
// once, so a crash midway leaves a run the sweep fails —, when it has
// gone on for DynamicOptions.ShowRunningAfter, and when its caller is
// answered 504. Past the flow's timeout (trigger.dynamic.timeout)
// CallSync returns a *TimeoutError with the run ID and the run goes on,
// detached from ctx, for at most DynamicOptions.Overrun more. A panic in
// the run fails it and gives a *CallPanicError. A run that cannot start
// (a connection is missing) is failed and gives a *StartError.
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
	release := sync.OnceFunc(func() { <-sem })

	now := s.st.Now()
	run := &store.Run{ID: store.NewID(), ProjectID: projectID, FlowID: f.ID, PipeID: f.PipeID, Trigger: store.TriggerDynamic,
		TriggeredBy: consumerName, Status: store.RunRunning, CreatedAt: now, StartedAt: &now}
	rctx, cancel := context.WithTimeoutCause(context.WithoutCancel(ctx), c.Timeout+o.Overrun,
		fmt.Errorf("the run went on %s past the flow's timeout (%s) and was stopped", o.Overrun, c.Timeout))
	sr := &syncRun{run: run, release: release}
	sr.ctx, sr.cancel = context.WithCancelCause(rctx)
	// A console log's row points at its run: a capturing run is shown
	// running at once.
	sr.capt = s.beginCapture(ctx, run)
	if sr.capt != nil || len(engine.WriteSteps(c)) > 0 || len(engine.CallSteps(c)) > 0 {
		if err := s.showRunning(sr); err != nil {
			cancel()
			release()
			return nil, err
		}
	}

	type outcome struct {
		res *CallResult
		err error
	}
	done := make(chan outcome, 1)
	// The journal's leader waits for this run's end, briefly, to commit
	// it with the others.
	s.journal.expect()
	s.goRun(func() {
		defer release()
		defer cancel()
		res, err := s.runSync(sr, c, records)
		done <- outcome{res, err}
	})
	show := time.NewTimer(o.ShowRunningAfter)
	defer show.Stop()
	for {
		select {
		case out := <-done:
			return out.res, out.err
		case <-show.C:
			if err := s.showRunning(sr); err != nil {
				s.log.Warn("runs: showing a dynamic run running", "run", run.ID, "err", err)
			}
		case <-timer.C:
			// The caller gets the run's ID: it must be there to look up.
			if err := s.showRunning(sr); err != nil {
				s.log.Warn("runs: showing a dynamic run running", "run", run.ID, "err", err)
			}
			return nil, &TimeoutError{RunID: run.ID, Timeout: c.Timeout}
		case <-ctx.Done():
			// The caller went away: the run goes on as after a timeout.
			return nil, ctx.Err()
		}
	}
}

// workerIdle is how long a worker of sync runs waits for the next run
// before it exits.
const workerIdle = 10 * time.Second

// goRun runs fn, a sync call's run, on an idle worker goroutine, or on a
// new one when none is idle. Workers outlive one run, so a run does not
// grow a fresh goroutine's stack every time (jq evaluation goes deep);
// their number follows the calls in flight, which the project slots
// bound, and an idle one exits after workerIdle.
func (s *Service) goRun(fn func()) {
	select {
	case s.dyn.work <- fn:
	default:
		go s.worker(fn)
	}
}

func (s *Service) worker(fn func()) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		fn()
		idle.Reset(workerIdle)
		select {
		case fn = <-s.dyn.work:
		case <-idle.C:
			return
		}
	}
}

// syncRun is a sync call's run while it goes on.
type syncRun struct {
	// ctx is the run's context; cancel ends it (the heartbeat does when
	// someone asks to cancel the run, or its row is gone).
	ctx    context.Context
	cancel context.CancelCauseFunc
	// release gives the project's slot back (once; later calls do
	// nothing).
	release func()

	mu  sync.Mutex
	run *store.Run
	// stored says its row exists (written running by showRunning).
	stored bool
	// ended says its end was written (or tried to be).
	ended bool
	// hbDone is closed when its heartbeat stops; nil while none runs.
	hbDone chan struct{}
	// capt is the run's console log (nil: its pipe captures none).
	capt *consolelog.Capture
}

// showRunning writes the row of a run that is going on, as running with a
// heartbeat, and makes it cancellable on this node; it does nothing for a
// run already shown or ended. It returns once the row committed.
func (s *Service) showRunning(sr *syncRun) error {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	if sr.stored || sr.ended {
		return nil
	}
	r := *sr.run
	now := s.st.Now()
	r.HeartbeatAt = &now
	// Cancellable before anyone can see it running.
	s.mu.Lock()
	s.cancels[r.ID] = sr.cancel
	s.mu.Unlock()
	if err := s.journalWrite(&journalEntry{run: &r, insert: true}); err != nil {
		s.mu.Lock()
		delete(s.cancels, r.ID)
		s.mu.Unlock()
		return err
	}
	sr.stored = true
	sr.hbDone = make(chan struct{})
	go func() {
		defer close(sr.hbDone)
		s.heartbeat(sr.ctx, r.ID, max(s.flushEvery(), minHeartbeat), sr.cancel)
	}()
	return nil
}

// endSync writes a sync run's end: its whole row, or its final status
// when it was shown running, with its failures and log values, in the
// journal's next group commit.
func (s *Service) endSync(sr *syncRun, status, msg string, cs engine.Counters, rec *recorder) error {
	// The run's slot is free once its flow is done: waiting for the
	// commit is not work of the project's.
	sr.release()
	sr.mu.Lock()
	defer sr.mu.Unlock()
	expected := !sr.ended
	sr.ended = true
	run := sr.run
	run.Status, run.Error = status, msg
	run.Read, run.Succeeded, run.Failed, run.Skipped = cs.Read, cs.Succeeded, cs.Failed, cs.Skipped
	now := s.st.Now()
	run.FinishedAt = &now
	if sr.stored {
		// Its log first, so whoever sees the run ended finds its log.
		s.endCapture(sr.ctx, sr.capt, run.ID)
	}
	e := &journalEntry{run: run, insert: !sr.stored, expected: expected}
	if rec != nil {
		e.failures, e.logs = rec.failures, rec.logs
	}
	if err := s.journalWrite(e); err != nil {
		s.log.Error("runs: finishing a dynamic run", "run", run.ID, "err", err)
		return fmt.Errorf("recording the run %s: %w", run.ID, err)
	}
	s.endCapture(sr.ctx, sr.capt, run.ID)
	return nil
}

// stopSync ends a sync run's context and heartbeat.
func (s *Service) stopSync(sr *syncRun) {
	sr.cancel(nil)
	sr.mu.Lock()
	hb, stored := sr.hbDone, sr.stored
	sr.mu.Unlock()
	if hb != nil {
		<-hb
	}
	if stored {
		s.mu.Lock()
		delete(s.cancels, sr.run.ID)
		s.mu.Unlock()
	}
}

// runSync runs a sync call's run and ends it.
func (s *Service) runSync(sr *syncRun, c *flow.Compiled, records []any) (res *CallResult, err error) {
	run := sr.run
	// rec holds the run's failures and log values until the run ends:
	// they are written with its end, in one transaction.
	var (
		rec *recorder
		cs  engine.Counters
	)
	finish := func(status, msg string) error { return s.endSync(sr, status, msg, cs, rec) }
	defer s.stopSync(sr)
	defer func() {
		if p := recover(); p != nil {
			// The value may hold record data: the log gets the stack
			// only, and the run a generic message.
			s.log.Error("runs: a dynamic run panicked", "run", run.ID, "stack", string(debug.Stack()))
			finish(store.RunFailed, "internal error (panic): the call was answered 500")
			res, err = nil, &CallPanicError{RunID: run.ID}
		}
	}()

	rctx := withCapture(sr.ctx, sr.capt)
	if h := s.dyn.hook; h != nil {
		h(rctx, run.ID)
	}
	e, err := s.dynamicEngine(rctx, run, c)
	if err != nil {
		finish(store.RunFailed, err.Error())
		return nil, &StartError{RunID: run.ID, Message: err.Error()}
	}
	rec = &recorder{s: s, run: run}
	e.rec = rec
	result, resps, runErr := e.e.RunRecords(rctx, records)
	cs = result.Counters
	cause := context.Cause(rctx)
	switch {
	case runErr != nil && errors.Is(cause, errGone):
		s.journal.gone()
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
	if err := finish(Outcome(cs)); err != nil {
		// The caller must not take an answer whose run is not recorded.
		return nil, err
	}
	return &CallResult{RunID: run.ID, Counters: cs, Responses: resps}, nil
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
		OnStep:  onStep(captureFrom(ctx)),
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
	env := s.env(ctx)
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
