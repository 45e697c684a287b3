package runs

import (
	"context"
	"time"

	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/consolelog"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/store"
)

// captureKey carries a run's console-log capture in its context, so every
// connector built for the run (s.env) reports its exchanges to it.
type captureKey struct{}

func withCapture(ctx context.Context, c *consolelog.Capture) context.Context {
	if c == nil {
		return ctx
	}
	return context.WithValue(ctx, captureKey{}, c)
}

// captureFrom is the capture withCapture put in ctx, or nil.
func captureFrom(ctx context.Context) *consolelog.Capture {
	c, _ := ctx.Value(captureKey{}).(*consolelog.Capture)
	return c
}

// env is the connector environment of the run whose context is ctx.
func (s *Service) env(ctx context.Context) connector.Env {
	env := connector.Env{FilesDir: s.filesDir, Logger: s.log}
	if c := captureFrom(ctx); c.Exchanges() {
		env.Trace = c.Exchange
	}
	return env
}

// onStep is the engine's OnStep for a capture (nil when it keeps no
// records).
func onStep(c *consolelog.Capture) func(engine.StepRecord) {
	if !c.Records() {
		return nil
	}
	return c.Step
}

// beginCapture starts run's console log when its pipe's settings capture
// now; nil otherwise (or without a console-log service).
func (s *Service) beginCapture(ctx context.Context, run *store.Run) *consolelog.Capture {
	if s.Console == nil {
		return nil
	}
	p, err := s.pipeRow(ctx, run.ProjectID, run.PipeID)
	if err != nil {
		s.log.Warn("runs: reading the pipe's console-log settings", "run", run.ID, "err", err)
		return nil
	}
	settings, on := consolelog.Active(p.ConsoleLog, s.st.Now())
	if !on {
		return nil
	}
	return s.Console.Begin(run, settings)
}

// endCapture stores a run's console log once the run's row exists.
func (s *Service) endCapture(ctx context.Context, c *consolelog.Capture, runID string) {
	if c == nil {
		return
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if _, err := c.Finish(fctx); err != nil {
		s.log.Error("runs: storing a console log", "run", runID, "err", err)
	}
}
