package runs

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/store"
)

// Outcome is the status a run ends with when its engine read the whole
// source, and the run's error summary: completed when no record failed,
// failed when every record failed, partially failed otherwise.
func Outcome(cs engine.Counters) (status, message string) {
	switch {
	case cs.Failed == 0:
		return store.RunCompleted, ""
	case cs.Succeeded == 0 && cs.Skipped == 0:
		return store.RunFailed, fmt.Sprintf("all %d records failed", cs.Failed)
	default:
		return store.RunPartiallyFailed, fmt.Sprintf("%d of %d records failed", cs.Failed, cs.Read)
	}
}

// OnceOptions configure RunOnce.
type OnceOptions struct {
	// FilesDir is the only directory file reads and writes may touch
	// ("": file flows cannot run).
	FilesDir string
	// Connections binds the connections the flow names (nil: only file
	// flows run). The project ID given to it is "".
	Connections Binder
	// Logger receives the connectors' logs (nil: slog.Default()).
	Logger *slog.Logger
	// OnFailure, OnLog and OnProgress are the engine's callbacks, called
	// from RunOnce's goroutine.
	OnFailure  func(engine.Failure)
	OnLog      func(engine.LogEntry)
	OnProgress func(engine.Counters)
}

// OnceResult is how a run made by RunOnce ended.
type OnceResult struct {
	engine.Counters
	// Status is one of store.RunCompleted, RunPartiallyFailed, RunFailed
	// and RunCancelled.
	Status string
	// Message is the run's error summary ("" when it completed).
	Message string
	// Err is the error that stopped the run before it read its whole
	// source (nil when it did), for callers that branch on its type.
	Err error
}

// RunOnce runs a flow document once in this process, with no store and
// no queue (`sluice run`): the flow is compiled, its source and sinks are
// built as a queued run builds them, and the engine streams every record.
// Nothing is kept: the callbacks see each failure and log value. A run
// whose ctx ends is cancelled; one that cannot be built or stops midway
// is failed; otherwise Outcome decides.
func RunOnce(ctx context.Context, def []byte, opts OnceOptions) OnceResult {
	s := &Service{filesDir: opts.FilesDir, log: opts.Logger, Connections: opts.Connections}
	if s.log == nil {
		s.log = slog.Default()
	}
	failed := func(err error) OnceResult {
		return OnceResult{Status: store.RunFailed, Message: err.Error(), Err: err}
	}
	c, src, sinks, err := s.build(ctx, "", string(def))
	if err != nil {
		return failed(err)
	}
	callers, err := s.buildCallers(ctx, "", c)
	if err != nil {
		src.Close()
		for _, sk := range sinks {
			sk.Close()
		}
		return failed(err)
	}
	e, err := engine.New(c, sinks, engine.Options{
		Callers:   callers,
		OnFailure: opts.OnFailure,
		OnLog:     opts.OnLog,
		OnProgress: func(cs engine.Counters, _ connector.Position) {
			if opts.OnProgress != nil {
				opts.OnProgress(cs)
			}
		},
	})
	if err != nil {
		src.Close()
		for _, sk := range sinks {
			sk.Close()
		}
		for _, cl := range callers {
			cl.Close()
		}
		return failed(err)
	}
	res, runErr := e.Run(ctx, src)
	out := OnceResult{Counters: res.Counters, Err: runErr}
	switch {
	case runErr != nil && ctx.Err() != nil:
		out.Status, out.Message = store.RunCancelled, "cancelled"
	case runErr != nil:
		out.Status, out.Message = store.RunFailed, runErr.Error()
	default:
		out.Status, out.Message = Outcome(res.Counters)
	}
	return out
}
