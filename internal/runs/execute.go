package runs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/consolelog"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/flow"
	"github.com/sluice-dev/sluice/internal/store"
)

// recorder buffers a run's failures and log values and writes them with
// its counters, checkpoint and heartbeat.
type recorder struct {
	s        *Service
	run      *store.Run
	failures []store.RunFailure
	logs     []store.RunLog
	seq      int64
	last     time.Time
	err      error
}

func (r *recorder) flush(ctx context.Context) error {
	if r.err != nil {
		return r.err
	}
	err := r.s.st.InTx(ctx, func(q *store.Q) error {
		if err := q.InsertRunFailures(ctx, r.failures); err != nil {
			return err
		}
		if err := q.InsertRunLogs(ctx, r.logs); err != nil {
			return err
		}
		return q.UpdateRunCounters(ctx, r.run)
	})
	if err != nil {
		r.err = err
		return err
	}
	r.failures, r.logs, r.last = r.failures[:0], r.logs[:0], time.Now()
	return nil
}

// checkpoints says whether a run of src into sinks can go on from a
// checkpoint: the source must be Resumable, and no sink a Committer (what
// a Committer wrote before a crash was never committed, so the engine
// rule is that such a run has no checkpoint before Close).
func checkpoints(src connector.Source, sinks map[string]connector.Sink) bool {
	if _, ok := src.(connector.Resumable); !ok {
		return false
	}
	for _, sk := range sinks {
		if _, ok := sk.(connector.Committer); ok {
			return false
		}
	}
	return true
}

func uniqueSinks(sinks map[string]connector.Sink) []connector.Sink {
	var out []connector.Sink
	seen := map[connector.Sink]bool{}
	for _, sk := range sinks {
		if !seen[sk] {
			seen[sk] = true
			out = append(out, sk)
		}
	}
	return out
}

// Execute runs the run id: the worker's body. A run that already
// finished is left as it is.
//
// A job attempt after one that stopped midway (a worker shut down or
// killed) goes on from the run's stored checkpoint when its source is
// Resumable and none of its sinks is a Committer, keeping the counters,
// failures and log values stored with that checkpoint: the sinks are
// flushed before each checkpoint is stored, and the records after it are
// read again (delivery is at least once) but counted once. Otherwise the
// attempt clears the run and starts over.
//
// While it works, Execute writes the run's heartbeat every FlushEvery and
// sees a cancel request stored by another node (CancelRun) then.
func (s *Service) Execute(ctx context.Context, id string) error {
	w := s.st.Writer()
	run, err := w.RunByID(ctx, "", id)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted meanwhile
	}
	if err != nil {
		return err
	}
	if run.Trigger == store.TriggerDynamic {
		// An async call's body goes with the attempt, whatever becomes of
		// it (buildDynamic takes it when the run begins).
		defer s.dropBody(ctx, id)
	}
	if run.Finished() {
		return nil
	}
	f, err := s.st.Reader().FlowByID(ctx, run.ProjectID, run.PipeID, run.FlowID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // the flow went, and its runs with it
	}
	if err != nil {
		return err
	}

	// finishRead ends a run that read its whole source: a reprocess run
	// then marks the parent's failures it fetched and did not fail again.
	// incremental is the source whose cursor a finished run keeps for
	// the next (cursor.go); nil for a reprocess run.
	var incremental connector.Source
	// capt is the run's console log, if its pipe captures one; it is
	// stored before the run's end is (a reader who sees the run ended
	// finds its log).
	var capt *consolelog.Capture
	finishRead := func(status, msg string) error {
		s.endCapture(ctx, capt, id)
		run.Status, run.Error = status, msg
		// The job's context may be ending: finishing must still land.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return s.st.InTx(fctx, func(q *store.Q) error {
			if run.Trigger == store.TriggerReprocess && run.ParentRunID != "" {
				if _, err := q.MarkReprocessed(fctx, run.ParentRunID, run.ID); err != nil {
					return err
				}
			}
			if err := s.keepCursor(fctx, q, run, incremental); err != nil {
				return err
			}
			return s.finishTx(fctx, q, run)
		})
	}
	// finish ends a run that stopped before the end of its source.
	finish := func(status, msg string) error {
		s.endCapture(ctx, capt, id)
		run.Status, run.Error = status, msg
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return s.st.InTx(fctx, func(q *store.Q) error { return s.finishTx(fctx, q, run) })
	}
	// begin marks the run running for this attempt; false: it is no
	// longer queued or running.
	begin := func(fresh bool) (bool, error) {
		var ok bool
		err := s.st.InTx(ctx, func(q *store.Q) error {
			if fresh {
				if err := q.ClearRunDetail(ctx, id); err != nil {
					return err
				}
			}
			var err error
			ok, err = q.BeginRun(ctx, id, fresh)
			return err
		})
		if ok {
			run.Status = store.RunRunning
			if fresh {
				run.Read, run.Succeeded, run.Failed, run.Skipped, run.Checkpoint = 0, 0, 0, 0, ""
			}
		}
		return ok, err
	}

	if run.CancelRequested {
		// Asked to cancel while no node worked it (its node died).
		if ok, err := begin(false); err != nil || !ok {
			return err
		}
		return finish(store.RunCancelled, "cancelled")
	}

	// The pipe's console log, when it captures: every connector built
	// below reports to it. finish stores it; an attempt that stops
	// without finishing (the queue retries it) stores what it captured.
	capt = s.beginCapture(ctx, run)
	if capt != nil {
		ctx = withCapture(ctx, capt)
		defer s.endCapture(ctx, capt, id)
	}

	var (
		c     *flow.Compiled
		src   connector.Source
		sinks map[string]connector.Sink
	)
	if run.Trigger == store.TriggerDynamic {
		c, src, sinks, err = s.buildDynamic(ctx, run, f.Definition)
	} else {
		c, src, sinks, err = s.build(ctx, run.ProjectID, f.Definition)
	}
	if err == nil && run.Trigger != store.TriggerReprocess && run.Trigger != store.TriggerDynamic {
		if err = s.giveCursor(ctx, f.ID, src); err == nil {
			incremental = src
		} else {
			src.Close()
			for _, sk := range sinks {
				sk.Close()
			}
		}
	}
	if err == nil && run.Trigger == store.TriggerReprocess {
		var rs *reprocessSource
		if why := cannotFetch(c.Read); why != "" {
			err = errors.New("the records cannot be reprocessed any more (the flow changed since the reprocess was asked for): " + why)
		} else if rs, err = newReprocessSource(s.st, id, src); err == nil {
			src = rs
		}
		if err != nil {
			src.Close()
			for _, sk := range sinks {
				sk.Close()
			}
		}
	}
	var callers map[string]connector.Caller
	if err == nil {
		if callers, err = s.buildCallers(ctx, run.ProjectID, c); err != nil {
			src.Close()
			for _, sk := range sinks {
				sk.Close()
			}
		}
	}
	if err != nil {
		if ok, berr := begin(true); berr != nil || !ok {
			return berr
		}
		return finish(store.RunFailed, err.Error())
	}
	closeAll := func() {
		src.Close()
		for _, sk := range sinks {
			sk.Close()
		}
		for _, cl := range callers {
			cl.Close()
		}
	}

	ckpt := checkpoints(src, sinks)
	resume := ckpt && run.Status == store.RunRunning && run.Checkpoint != ""
	ok, err := begin(!resume)
	if err != nil || !ok {
		closeAll()
		return err
	}
	base := engine.Counters{Read: run.Read, Succeeded: run.Succeeded, Failed: run.Failed, Skipped: run.Skipped}
	rec := &recorder{s: s, run: run, last: time.Now()}
	if resume {
		if err := src.(connector.Resumable).Resume(connector.Position(run.Checkpoint)); err != nil {
			closeAll()
			return finish(store.RunFailed, fmt.Sprintf("the run cannot go on from its checkpoint %s: %v; start the flow again", run.Checkpoint, err))
		}
		if rec.seq, err = s.st.Writer().LastRunLogSeq(ctx, id); err != nil {
			closeAll()
			return err
		}
		s.log.Info("runs: resuming a run from its checkpoint", "run", id, "read", run.Read)
	}

	rctx, cancel, stop := s.watch(ctx, id)
	defer stop()
	every := s.flushEvery()

	var rs *reprocessSource
	if r, ok := src.(*reprocessSource); ok {
		rs = r
	}
	outSinks := uniqueSinks(sinks)
	e, err := engine.New(c, sinks, engine.Options{
		Callers: callers,
		OnStep:  onStep(capt),
		OnFailure: func(fl engine.Failure) {
			if fl.EntityID == "" && fl.Stage == engine.StageRead && rs != nil {
				fl.EntityID = rs.entityOf(fl.Meta)
			}
			rec.failures = append(rec.failures, store.RunFailure{RunID: id, EntityID: fl.EntityID, Stage: fl.Stage, Error: fl.Error, Attempts: fl.Attempts})
		},
		OnLog: func(l engine.LogEntry) {
			v, err := json.Marshal(l.Value)
			if err != nil {
				v, _ = json.Marshal(fmt.Sprint(l.Value))
			}
			rec.seq++
			rec.logs = append(rec.logs, store.RunLog{RunID: id, Seq: rec.seq, EntityID: l.EntityID, Step: l.Step, Value: string(v)})
		},
		OnProgress: func(cs engine.Counters, pos connector.Position) {
			run.Read, run.Succeeded, run.Failed, run.Skipped = base.Read+cs.Read, base.Succeeded+cs.Succeeded, base.Failed+cs.Failed, base.Skipped+cs.Skipped
			if time.Since(rec.last) < every && len(rec.failures)+len(rec.logs) < 1000 {
				return
			}
			if ckpt && len(pos) > 0 {
				// A position is a checkpoint only once everything written
				// before it is flushed.
				for _, sk := range outSinks {
					if err := sk.Flush(rctx); err != nil {
						cancel(fmt.Errorf("flushing a write before storing a checkpoint: %w", err))
						return
					}
				}
				run.Checkpoint = string(pos)
			}
			if err := rec.flush(rctx); err != nil {
				cancel(fmt.Errorf("recording the run: %w", err))
			}
		},
	})
	if err != nil {
		closeAll()
		return finish(store.RunFailed, err.Error())
	}
	res, runErr := e.Run(rctx, src)
	cause := context.Cause(rctx)
	if runErr != nil && errors.Is(cause, errGone) {
		return nil // deleted, or ended by a sweep: nothing to record
	}
	if runErr != nil && ctx.Err() != nil && ckpt {
		// The worker is stopping and the queue retries the job, which
		// goes on from the last checkpoint: what was read after it is not
		// recorded, since it will be read and counted again.
		return runErr
	}
	run.Read, run.Succeeded, run.Failed, run.Skipped = base.Read+res.Read, base.Succeeded+res.Succeeded, base.Failed+res.Failed, base.Skipped+res.Skipped
	if runErr == nil && len(res.Position) > 0 {
		run.Checkpoint = string(res.Position)
	}
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer fcancel()
	rec.err = nil
	if err := rec.flush(fctx); err != nil {
		s.log.Error("runs: recording failures", "run", id, "err", err)
	}
	switch {
	case runErr != nil && errors.Is(cause, errCancelled):
		return finish(store.RunCancelled, "cancelled")
	case runErr != nil && ctx.Err() != nil:
		// The worker is stopping: the queue retries the job, which starts
		// the run over.
		return runErr
	case runErr != nil && cause != nil:
		return finish(store.RunFailed, cause.Error())
	case runErr != nil:
		return finish(store.RunFailed, runErr.Error())
	default:
		return finishRead(Outcome(engine.Counters{Read: run.Read, Succeeded: run.Succeeded, Failed: run.Failed, Skipped: run.Skipped}))
	}
}

// minHeartbeat bounds how often a run's heartbeat is written, whatever
// FlushEvery says.
const minHeartbeat = 50 * time.Millisecond

// flushEvery is FlushEvery or its default.
func (s *Service) flushEvery() time.Duration {
	if s.FlushEvery <= 0 {
		return DefaultFlushEvery
	}
	return s.FlushEvery
}

// watch makes the context a run works under: Cancel on this node ends
// it, and a heartbeat goroutine keeps the run's heartbeat fresh and sees
// a cancel request another node stored. stop ends both and forgets the
// run; call it (deferred) before the run's end is stored.
func (s *Service) watch(ctx context.Context, id string) (context.Context, context.CancelCauseFunc, func()) {
	rctx, cancel := context.WithCancelCause(ctx)
	s.mu.Lock()
	s.cancels[id] = cancel
	s.mu.Unlock()
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		s.heartbeat(rctx, id, max(s.flushEvery(), minHeartbeat), cancel)
	}()
	stop := func() {
		cancel(nil)
		<-hbDone
		s.mu.Lock()
		delete(s.cancels, id)
		s.mu.Unlock()
	}
	return rctx, cancel, stop
}

// heartbeat writes the run's heartbeat every interval until ctx ends, and
// ends the run's context when the store says it was asked to cancel, or
// is no longer running.
func (s *Service) heartbeat(ctx context.Context, id string, every time.Duration, cancel context.CancelCauseFunc) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cancelled, running, err := s.st.Writer().HeartbeatRun(ctx, id)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				s.log.Warn("runs: heartbeat", "run", id, "err", err)
			}
		case cancelled:
			cancel(errCancelled)
			return
		case !running:
			cancel(errGone)
			return
		}
	}
}
