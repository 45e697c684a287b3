// Package queue runs Sluice's background jobs on River: in process on the
// SQLite file by default, or on PostgreSQL shared by any number of
// `sluice worker` nodes. A job carries IDs only, so running one twice is
// safe, and a job enqueued inside a store transaction commits or rolls back
// with that transaction's row changes.
package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/sluice-dev/sluice/internal/store"
)

// Options configures a Queue.
type Options struct {
	// Work makes this process fetch and run jobs; without it the Queue
	// only inserts (an API node beside separate workers).
	Work bool
	// Workers bounds how many jobs run at once in this process.
	Workers int
	// Register adds the job workers. Every kind that may be inserted must
	// be registered in a working process.
	Register func(w *river.Workers)
	// Periodic jobs are scheduled by the elected leader only, so they run
	// once per interval however many nodes there are.
	Periodic []*river.PeriodicJob
	// PollInterval is how often idle workers look for new jobs (default 1 s
	// on SQLite; PostgreSQL is woken by LISTEN/NOTIFY and polls as a
	// fallback).
	PollInterval time.Duration
	// OnJobDone is told the kind and outcome of every finished job (for
	// metrics).
	OnJobDone func(kind, outcome string)
	Logger    *slog.Logger
}

// Queue inserts and (optionally) works jobs.
type Queue struct {
	st   *store.Store
	opts Options
	// inserter inserts jobs inside *sql.Tx store transactions. On SQLite it
	// is also the working client; on PostgreSQL it is an insert-only client
	// on database/sql over the same pgx pool.
	inserter *river.Client[*sql.Tx]
	// pgWorker works jobs on PostgreSQL through River's pgx driver, with
	// LISTEN/NOTIFY and leader election.
	pgWorker *river.Client[pgx.Tx]
	started  bool
	unsub    func()
}

// Migrate applies River's own schema migrations.
func Migrate(ctx context.Context, st *store.Store) error {
	var err error
	switch st.Dialect() {
	case store.SQLite:
		var m *rivermigrate.Migrator[*sql.Tx]
		if m, err = rivermigrate.New(riversqlite.New(st.WriteDB()), nil); err == nil {
			_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		}
	case store.Postgres:
		var m *rivermigrate.Migrator[pgx.Tx]
		if m, err = rivermigrate.New(riverpgxv5.New(st.PgxPool()), nil); err == nil {
			_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		}
	}
	if err != nil {
		return fmt.Errorf("queue: migrate: %w", err)
	}
	return nil
}

// New builds a Queue; it does no I/O until Start.
func New(st *store.Store, opts Options) (*Queue, error) {
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	workers := river.NewWorkers()
	if opts.Register != nil {
		opts.Register(workers)
	}
	cfg := func() *river.Config {
		c := &river.Config{
			Logger:       quiet(opts.Logger),
			MaxAttempts:  5,
			Workers:      workers,
			PeriodicJobs: opts.Periodic,
			// A run can take long; jobs set their own deadlines.
			JobTimeout: -1,
		}
		if opts.PollInterval > 0 {
			c.FetchPollInterval = opts.PollInterval
			if c.FetchCooldown > opts.PollInterval || opts.PollInterval < 100*time.Millisecond {
				c.FetchCooldown = opts.PollInterval
			}
		}
		if opts.Work {
			c.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: opts.Workers}}
		}
		return c
	}
	q := &Queue{st: st, opts: opts}
	var err error
	switch st.Dialect() {
	case store.SQLite:
		c := cfg()
		if opts.PollInterval == 0 {
			c.FetchPollInterval = time.Second
		}
		q.inserter, err = river.NewClient(riversqlite.New(st.WriteDB()), c)
	case store.Postgres:
		// The insert-only client knows the workers so it can check kinds,
		// but has no queues and no periodic jobs of its own.
		ic := &river.Config{Logger: quiet(opts.Logger), Workers: workers, MaxAttempts: 5}
		q.inserter, err = river.NewClient(riverdatabasesql.New(st.WriteDB()), ic)
		if err == nil && opts.Work {
			q.pgWorker, err = river.NewClient(riverpgxv5.New(st.PgxPool()), cfg())
		}
	default:
		err = fmt.Errorf("unknown dialect %q", st.Dialect())
	}
	if err != nil {
		return nil, fmt.Errorf("queue: create client: %w", err)
	}
	return q, nil
}

// InsertTx enqueues a job inside the store transaction of sq: the job
// becomes visible to workers exactly when that transaction commits.
func (q *Queue) InsertTx(ctx context.Context, sq *store.Q, args river.JobArgs, opts *river.InsertOpts) (int64, error) {
	tx := sq.Tx()
	if tx == nil {
		return 0, errors.New("queue: InsertTx needs a store transaction (use Store.InTx)")
	}
	res, err := q.inserter.InsertTx(ctx, tx, args, opts)
	if err != nil {
		return 0, fmt.Errorf("queue: insert %s: %w", args.Kind(), err)
	}
	return res.Job.ID, nil
}

// Insert enqueues a job on its own.
func (q *Queue) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (int64, error) {
	var id int64
	err := q.st.InTx(ctx, func(sq *store.Q) error {
		var err error
		id, err = q.InsertTx(ctx, sq, args, opts)
		return err
	})
	return id, err
}

func (q *Queue) working() (start func(context.Context) error, stop func(context.Context) error, cancel func(context.Context) error, sub func(...river.EventKind) (<-chan *river.Event, func())) {
	if q.pgWorker != nil {
		return q.pgWorker.Start, q.pgWorker.Stop, q.pgWorker.StopAndCancel, q.pgWorker.Subscribe
	}
	return q.inserter.Start, q.inserter.Stop, q.inserter.StopAndCancel, q.inserter.Subscribe
}

// Start begins fetching and working jobs when Options.Work is set.
func (q *Queue) Start(ctx context.Context) error {
	if !q.opts.Work || q.started {
		return nil
	}
	start, _, _, subscribe := q.working()
	if q.opts.OnJobDone != nil {
		events, unsub := subscribe(river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled, river.EventKindJobSnoozed)
		q.unsub = unsub
		go func() {
			for e := range events {
				q.opts.OnJobDone(e.Job.Kind, outcome(e))
			}
		}()
	}
	if err := start(ctx); err != nil {
		return fmt.Errorf("queue: start: %w", err)
	}
	q.started = true
	return nil
}

func outcome(e *river.Event) string {
	switch e.Kind {
	case river.EventKindJobCompleted:
		return "completed"
	case river.EventKindJobCancelled:
		return "cancelled"
	case river.EventKindJobSnoozed:
		return "snoozed"
	}
	if e.Job.State == "discarded" {
		return "discarded"
	}
	return "retryable"
}

// Stop lets jobs in flight finish until ctx is done, then cancels the rest;
// a cancelled job is released to run again (River retries it), so no work
// is lost. It is safe to call more than once.
func (q *Queue) Stop(ctx context.Context) error {
	if !q.started {
		return nil
	}
	q.started = false
	_, stop, stopAndCancel, _ := q.working()
	err := stop(ctx)
	if err != nil && ctx.Err() != nil {
		hard, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = stopAndCancel(hard)
	}
	if q.unsub != nil {
		q.unsub()
	}
	if err != nil {
		return fmt.Errorf("queue: stop: %w", err)
	}
	return nil
}

// Depth counts jobs by state, for /metrics.
// Every state is reported, 0 included, so dashboards and alerts see a
// series even for an empty queue.
func (q *Queue) Depth(ctx context.Context) (map[string]int64, error) {
	counts, err := q.st.Reader().JobCounts(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range rivertype.JobStates() {
		if _, ok := counts[string(s)]; !ok {
			counts[string(s)] = 0
		}
	}
	return counts, nil
}

// Ping checks that the queue's tables answer, for /readyz.
func (q *Queue) Ping(ctx context.Context) error {
	_, err := q.st.Reader().JobCounts(ctx)
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	return nil
}

// quiet passes River's warnings and errors on but drops its routine
// info-level chatter (producer statistics every few seconds).
func quiet(l *slog.Logger) *slog.Logger {
	return slog.New(minLevel{l.With("component", "queue").Handler(), slog.LevelWarn})
}

type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(a []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(a), h.min}
}
func (h minLevel) WithGroup(n string) slog.Handler { return minLevel{h.Handler.WithGroup(n), h.min} }
