// Package runs runs flows: a run is a row in the store and a queue job
// carrying its ID; the job's worker compiles the flow, builds its source
// and sinks, streams the records through the engine and keeps the run's
// counters, failures and log values in the store.
package runs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/connection"
	"github.com/sluice-dev/sluice/internal/connector"
	httpconn "github.com/sluice-dev/sluice/internal/connectors/http"
	sqlconn "github.com/sluice-dev/sluice/internal/connectors/sql"
	_ "github.com/sluice-dev/sluice/internal/connectors/standard" // the kinds a run builds
	"github.com/sluice-dev/sluice/internal/consolelog"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/flow"
	"github.com/sluice-dev/sluice/internal/project"
	"github.com/sluice-dev/sluice/internal/store"
)

// DefaultFlushEvery bounds how long a run's counters may lag in the store.
const DefaultFlushEvery = time.Second

// JobInserter enqueues a job inside a store transaction (the queue).
type JobInserter interface {
	InsertTx(ctx context.Context, q *store.Q, args river.JobArgs, opts *river.InsertOpts) (int64, error)
}

// Service starts, lists and deletes runs, and works their jobs.
type Service struct {
	st       *store.Store
	queue    JobInserter
	filesDir string
	log      *slog.Logger
	// FlushEvery is the longest time between two writes of a running
	// run's counters (0: DefaultFlushEvery).
	FlushEvery time.Duration
	// StuckAfter is how long a running run may go without a heartbeat
	// before Sweep fails it (0: DefaultStuckAfter).
	StuckAfter time.Duration
	// SweepEvery is the interval of the periodic sweep (0:
	// DefaultSweepEvery).
	SweepEvery time.Duration
	// Connections binds the connection names a flow uses to connector
	// kinds (nil: only file flows run).
	Connections Binder

	// Console keeps the console logs of runs whose pipe captures them
	// (nil: none are captured).
	Console *consolelog.Service

	// ConsoleLogs deletes the console logs of runs (blobs, then rows)
	// before the runs are deleted (nil: Console does, if set).
	ConsoleLogs LogDeleter

	// FlowRowTTL is how long a dynamic call trusts a flow row it read (0:
	// DefaultFlowRowTTL; negative: it reads the row every time).
	FlowRowTTL time.Duration

	// flows keeps flows compiled for ticks and dynamic calls.
	flows flowCache
	// flowRows and pipeRows keep the rows of called flows and their
	// pipes (flowcache.go).
	flowRows rowCache[*store.Flow]
	pipeRows rowCache[*store.Pipe]

	mu      sync.Mutex
	cancels map[string]context.CancelCauseFunc
	// dyn serves dynamic calls (dynamic.go).
	dyn dynamic
	// journal group-commits the rows of dynamic runs (journal.go).
	journal journal
}

// NewService builds the runs service; filesDir is the only directory
// file reads and writes may touch.
func NewService(st *store.Store, filesDir string, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	s := &Service{st: st, filesDir: filesDir, log: log, cancels: map[string]context.CancelCauseFunc{}}
	s.dyn.work = make(chan func())
	s.journal.more = make(chan struct{}, 1)
	return s
}

// Binder binds a connection a flow names to the connector kind that
// reaches it: the kind's NewSource, NewSink and NewCaller then build
// sources, sinks and callers talking to that connection. An unknown name
// is an error wrapping store.ErrNotFound.
type Binder interface {
	Bind(ctx context.Context, projectID, name string) (*connector.Kind, error)
}

// SQLOpener opens a project's database connection by name.
type SQLOpener interface {
	OpenSQL(ctx context.Context, projectID, name string) (*connection.SQLDB, error)
}

// HTTPOpener opens a project's http connection by name.
type HTTPOpener interface {
	OpenHTTP(ctx context.Context, projectID, name string) (httpconn.Conn, error)
}

// ProjectConnections binds the connections stored in a project.
type ProjectConnections struct {
	SQL SQLOpener
	// HTTP opens http connections (nil: a flow cannot use one).
	HTTP HTTPOpener
}

// OpenHTTP implements HTTPOpener, for http reads and writes, which the
// runs layer builds from the compiled flow.
func (pc ProjectConnections) OpenHTTP(ctx context.Context, projectID, name string) (httpconn.Conn, error) {
	if pc.HTTP == nil {
		return httpconn.Conn{}, fmt.Errorf("http connections are %w here", errUnsupported)
	}
	return pc.HTTP.OpenHTTP(ctx, projectID, name)
}

// Bind implements Binder.
func (pc ProjectConnections) Bind(ctx context.Context, projectID, name string) (*connector.Kind, error) {
	if pc.HTTP != nil {
		conn, err := pc.HTTP.OpenHTTP(ctx, projectID, name)
		if err == nil {
			return httpconn.Bind(conn), nil
		}
		if !errors.Is(err, connection.ErrNotHTTP) || pc.SQL == nil {
			return nil, err
		}
	}
	db, err := pc.SQL.OpenSQL(ctx, projectID, name)
	if err != nil {
		return nil, err
	}
	dialect := sqlconn.Postgres
	if db.Kind == "mysql" {
		dialect = sqlconn.MySQL
	}
	return sqlconn.Bind(sqlconn.Conn{Dialect: dialect, Open: db.Open}), nil
}

// SetQueue gives the service the queue runs are enqueued on.
func (s *Service) SetQueue(q JobInserter) { s.queue = q }

// Register adds the run worker to a queue's workers.
func (s *Service) Register(w *river.Workers) {
	river.AddWorker(w, &RunFlowWorker{S: s})
	river.AddWorker(w, &SweepWorker{S: s})
}

// RunFlowArgs is the job that runs one run. It carries the run's ID only.
type RunFlowArgs struct {
	RunID string `json:"run_id"`
}

// Kind names the job in the queue.
func (RunFlowArgs) Kind() string { return "run_flow" }

// InsertOpts: a run that failed for good is not retried by the queue; a
// worker that stopped midway (shutdown) retries it.
func (RunFlowArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 3} }

// RunFlowWorker works RunFlowArgs.
type RunFlowWorker struct {
	river.WorkerDefaults[RunFlowArgs]
	S *Service
}

// Work runs the run.
func (w *RunFlowWorker) Work(ctx context.Context, job *river.Job[RunFlowArgs]) error {
	return w.S.Execute(ctx, job.Args.RunID)
}

// recheck re-reads the caller's role on the project inside q's
// transaction and checks that it still allows action.
func recheck(ctx context.Context, q *store.Q, projectID string, p *account.Principal, action access.Action) error {
	if err := q.LockAuditChain(ctx); err != nil {
		return err
	}
	_, rank, err := q.ProjectForUser(ctx, projectID, p.User.ID)
	if err != nil {
		return err
	}
	if !access.Can(access.RoleFromRank(rank), action) {
		return project.ErrRoleChanged
	}
	return nil
}

func event(p *account.Principal, c account.Client, projectID, action, runID string, detail map[string]any) audit.Event {
	return audit.Event{ActorID: p.User.ID, ActorEmail: p.User.Email, IP: c.IP, ProjectID: projectID,
		Action: action, Target: "run:" + runID, Outcome: audit.Success, Detail: detail}
}

// StartManual queues a manual run of a flow of g's project: the run row,
// its job and the audit event commit together.
func (s *Service) StartManual(ctx context.Context, p *account.Principal, g *access.Grant, pipeID, flowID string, c account.Client) (*store.Run, error) {
	if s.queue == nil {
		return nil, errors.New("runs: no queue")
	}
	var run *store.Run
	err := s.st.InTx(ctx, func(q *store.Q) error {
		if err := recheck(ctx, q, g.Project.ID, p, access.RunFlows); err != nil {
			return err
		}
		f, err := q.FlowByID(ctx, g.Project.ID, pipeID, flowID)
		if err != nil {
			return err
		}
		run = &store.Run{ProjectID: g.Project.ID, FlowID: f.ID, PipeID: f.PipeID, Trigger: store.TriggerManual, TriggeredBy: p.User.ID}
		if err := q.CreateRun(ctx, run); err != nil {
			return err
		}
		if _, err := s.queue.InsertTx(ctx, q, RunFlowArgs{RunID: run.ID}, nil); err != nil {
			return err
		}
		_, err = audit.Append(ctx, q, event(p, c, g.Project.ID, audit.ActionRunStart, run.ID,
			map[string]any{"flow_id": f.ID, "pipe_id": f.PipeID, "trigger": store.TriggerManual, "version": f.Version}))
		return err
	})
	if err != nil {
		return nil, err
	}
	return run, nil
}

// Get loads a run of a project.
func (s *Service) Get(ctx context.Context, projectID, id string) (*store.Run, error) {
	return s.st.Reader().RunByID(ctx, projectID, id)
}

// List lists runs of a project.
func (s *Service) List(ctx context.Context, f store.RunFilter) ([]*store.Run, error) {
	return s.st.Reader().ListRuns(ctx, f)
}

// Days sums a project's runs per UTC day since a time (the dashboard).
func (s *Service) Days(ctx context.Context, projectID string, since time.Time) ([]store.RunDay, error) {
	return s.st.Reader().RunDays(ctx, projectID, since)
}

// RecentFailures are a project's newest failed or partly failed runs
// since a time, at most limit.
func (s *Service) RecentFailures(ctx context.Context, projectID string, since time.Time, limit int) ([]*store.Run, error) {
	return s.st.Reader().RecentFailedRuns(ctx, projectID, since, limit)
}

// Failures lists the failures of a run of a project.
func (s *Service) Failures(ctx context.Context, projectID, id string, after int64, limit int) ([]*store.RunFailure, error) {
	r := s.st.Reader()
	if _, err := r.RunByID(ctx, projectID, id); err != nil {
		return nil, err
	}
	return r.ListRunFailures(ctx, id, after, limit)
}

// Logs lists a run's detail log: the values its flow's log steps kept.
func (s *Service) Logs(ctx context.Context, projectID, id string, after int64, limit int) ([]*store.RunLog, error) {
	r := s.st.Reader()
	if _, err := r.RunByID(ctx, projectID, id); err != nil {
		return nil, err
	}
	return r.ListRunLogs(ctx, id, after, limit)
}

// Delete removes a run with its failures and logs. A run still going is
// cancelled first (on this node).
func (s *Service) Delete(ctx context.Context, p *account.Principal, g *access.Grant, id string, c account.Client) error {
	if d := s.logDeleter(); d != nil {
		// The console logs' blobs go first (the run takes their rows
		// along, not them), once the caller is known to be allowed.
		err := s.st.InTx(ctx, func(q *store.Q) error {
			if err := recheck(ctx, q, g.Project.ID, p, access.ConfigureProject); err != nil {
				return err
			}
			_, err := q.RunByID(ctx, g.Project.ID, id)
			return err
		})
		if err != nil {
			return err
		}
		if err := deleteRunLogs(ctx, d, []string{id}); err != nil {
			return err
		}
	}
	err := s.st.InTx(ctx, func(q *store.Q) error {
		if err := recheck(ctx, q, g.Project.ID, p, access.ConfigureProject); err != nil {
			return err
		}
		r, err := q.RunByID(ctx, g.Project.ID, id)
		if err != nil {
			return err
		}
		if err := q.DeleteRun(ctx, g.Project.ID, id); err != nil {
			return err
		}
		_, err = audit.Append(ctx, q, event(p, c, g.Project.ID, audit.ActionRunDelete, id,
			map[string]any{"flow_id": r.FlowID, "pipe_id": r.PipeID, "status": r.Status}))
		return err
	})
	if err == nil {
		s.Cancel(id)
	}
	return err
}

// Cancel ends a run working on this node; it reports whether it was.
func (s *Service) Cancel(runID string) bool {
	s.mu.Lock()
	cancel := s.cancels[runID]
	s.mu.Unlock()
	if cancel != nil {
		cancel(errCancelled)
	}
	return cancel != nil
}

// errUnsupported marks a flow the runs layer cannot run yet.
var errUnsupported = errors.New("not supported yet")

// build compiles a flow and makes its source and sinks.
func (s *Service) build(ctx context.Context, projectID, def string) (*flow.Compiled, connector.Source, map[string]connector.Sink, error) {
	c, err := flow.Load([]byte(def))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("the flow does not compile: %w", err)
	}
	env := s.env(ctx)
	src, err := s.source(ctx, projectID, env, c.Read)
	if err != nil {
		return nil, nil, nil, err
	}
	sinks := map[string]connector.Sink{}
	fail := func(err error) (*flow.Compiled, connector.Source, map[string]connector.Sink, error) {
		src.Close()
		for _, sk := range sinks {
			sk.Close()
		}
		return nil, nil, nil, err
	}
	for _, w := range engine.WriteSteps(c) {
		sink, err := s.sink(ctx, projectID, env, w.Write)
		if err != nil {
			return fail(fmt.Errorf("%s: %w", w.Path, err))
		}
		sinks[w.Path] = sink
	}
	return c, src, sinks, nil
}

func kindOf(kind string) string {
	if kind == "" {
		return "unknown"
	}
	return kind
}

// source makes the run's source from its read.
func (s *Service) source(ctx context.Context, projectID string, env connector.Env, r *flow.CompiledRead) (connector.Source, error) {
	switch {
	case r != nil && r.Kind == flow.KindFile && r.File != nil:
		kind, err := s.fileKind()
		if err != nil {
			return nil, err
		}
		src, err := kind.NewSource(env, map[string]any{"path": r.File.Path, "format": r.File.Format})
		if err != nil {
			return nil, fmt.Errorf("read: %w", err)
		}
		return src, nil
	case r != nil && r.Kind == flow.KindSQL && r.SQL != nil:
		kind, err := s.bound(ctx, projectID, r.Connection)
		if err != nil {
			return nil, fmt.Errorf("read: %w", err)
		}
		settings := map[string]any{"query": r.SQL.Query, "cursor_column": r.SQL.CursorColumn}
		if r.SQL.Key != "" {
			settings["key"] = r.SQL.Key
		}
		if r.SQL.BatchSize > 0 {
			settings["batch_size"] = r.SQL.BatchSize
		}
		src, err := kind.NewSource(env, settings)
		if err != nil {
			return nil, fmt.Errorf("read: %w", err)
		}
		return src, nil
	case r != nil && r.Kind == flow.KindHTTP && r.Request != nil:
		conn, err := s.httpConn(ctx, projectID, r.Connection)
		if err != nil {
			return nil, fmt.Errorf("read: %w", err)
		}
		src, err := httpconn.NewSourceFrom(env, conn, r)
		if err != nil {
			return nil, fmt.Errorf("read: %w", err)
		}
		return src, nil
	}
	kind := "unknown"
	if r != nil {
		kind = kindOf(r.Kind)
	}
	return nil, fmt.Errorf("reading from %s is %w: only file, sql and http reads run", kind, errUnsupported)
}

// sink makes a sink from a write.
func (s *Service) sink(ctx context.Context, projectID string, env connector.Env, w *flow.CompiledWrite) (connector.Sink, error) {
	switch {
	case w != nil && w.Kind == flow.KindFile && w.File != nil:
		kind, err := s.fileKind()
		if err != nil {
			return nil, err
		}
		return kind.NewSink(env, map[string]any{"path": w.File.Path, "format": w.File.Format})
	case w != nil && w.Kind == flow.KindSQL && w.SQL != nil:
		kind, err := s.bound(ctx, projectID, w.Connection)
		if err != nil {
			return nil, err
		}
		settings := map[string]any{"table": w.SQL.Table, "mode": w.SQL.Mode}
		if len(w.SQL.Key) > 0 {
			key := make([]any, len(w.SQL.Key))
			for i, k := range w.SQL.Key {
				key[i] = k
			}
			settings["key"] = key
		}
		if w.SQL.BatchSize > 0 {
			settings["batch_size"] = w.SQL.BatchSize
		}
		return kind.NewSink(env, settings)
	case w != nil && w.Kind == flow.KindHTTP && w.Request != nil:
		conn, err := s.httpConn(ctx, projectID, w.Connection)
		if err != nil {
			return nil, err
		}
		return httpconn.NewSinkFrom(env, conn, w)
	}
	kind := "unknown"
	if w != nil {
		kind = kindOf(w.Kind)
	}
	return nil, fmt.Errorf("writing to %s is %w: only file, sql and http writes run", kind, errUnsupported)
}

func (s *Service) fileKind() (*connector.Kind, error) {
	if s.filesDir == "" {
		return nil, errors.New("this instance has no files directory")
	}
	return connector.Lookup(flow.KindFile)
}

// bound is the connector kind bound to the project's connection name.
func (s *Service) bound(ctx context.Context, projectID, name string) (*connector.Kind, error) {
	if s.Connections == nil {
		return nil, fmt.Errorf("sql is %w on this instance", errUnsupported)
	}
	kind, err := s.Connections.Bind(ctx, projectID, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("the project has no connection %q", name)
	}
	if err != nil {
		return nil, err
	}
	return kind, nil
}

// httpConn opens the project's http connection name for an http read or
// write, which is built from the compiled flow.
func (s *Service) httpConn(ctx context.Context, projectID, name string) (httpconn.Conn, error) {
	hb, ok := s.Connections.(HTTPOpener)
	if !ok {
		return httpconn.Conn{}, fmt.Errorf("http connections are %w on this instance", errUnsupported)
	}
	conn, err := hb.OpenHTTP(ctx, projectID, name)
	if errors.Is(err, store.ErrNotFound) {
		return httpconn.Conn{}, fmt.Errorf("the project has no connection %q", name)
	}
	return conn, err
}
