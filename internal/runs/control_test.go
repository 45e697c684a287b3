package runs_test

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river"

	"github.com/sluice-dev/sluice/internal/connector"
	sqlconn "github.com/sluice-dev/sluice/internal/connectors/sql"
	"github.com/sluice-dev/sluice/internal/queue"
	"github.com/sluice-dev/sluice/internal/runs"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

// gateBinder binds every connection to one PostgreSQL database, with a
// source whose every Read first passes gate (n counts the Reads of that
// source from 1), so a test can stop or hold a run at a chosen batch.
type gateBinder struct {
	db   *stdsql.DB
	url  string
	mu   sync.Mutex
	gate func(ctx context.Context, n int) error
	// rows counts the records the sources returned.
	rows int
}

func (b *gateBinder) Bind(ctx context.Context, projectID, name string) (*connector.Kind, error) {
	k := sqlconn.Bind(sqlconn.Conn{Dialect: sqlconn.Postgres, Open: func(ctx context.Context) (*stdsql.DB, error) {
		return stdsql.Open("pgx", b.url)
	}})
	read := *k.Read
	inner := read.New
	read.New = func(env connector.Env, s map[string]any) (connector.Source, error) {
		src, err := inner(env, s)
		if err != nil {
			return nil, err
		}
		return &gatedSource{Source: src.(*sqlconn.Source), b: b}, nil
	}
	out := *k
	out.Read = &read
	return &out, nil
}

func (b *gateBinder) setGate(g func(ctx context.Context, n int) error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gate, b.rows = g, 0
}

// gatedSource is an sql source (still Resumable and FetchByID) whose Read
// passes the binder's gate first.
type gatedSource struct {
	*sqlconn.Source
	b *gateBinder
	n int
}

func (g *gatedSource) Read(ctx context.Context) ([]connector.Record, connector.Position, error) {
	g.n++
	g.b.mu.Lock()
	gate := g.b.gate
	g.b.mu.Unlock()
	if gate != nil {
		if err := gate(ctx, g.n); err != nil {
			return nil, nil, err
		}
	}
	recs, pos, err := g.Source.Read(ctx)
	g.b.mu.Lock()
	g.b.rows += len(recs)
	g.b.mu.Unlock()
	return recs, pos, err
}

// sqlWorld is a world whose flows read table src and upsert into dst of a
// PostgreSQL database of its own, in batches of two rows.
func sqlWorld(t *testing.T) (*world, *gateBinder, *store.Flow) {
	t.Helper()
	url := storetest.CreateDatabase(t)
	db, err := stdsql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, q := range []string{
		`CREATE TABLE src (id int PRIMARY KEY, name text, qty int NOT NULL)`,
		`CREATE TABLE dst (id int PRIMARY KEY, name text NOT NULL, qty int NOT NULL)`,
		`INSERT INTO src SELECT i, CASE WHEN i = 3 THEN NULL ELSE 'n' || i END, i FROM generate_series(1, 10) AS i`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	st := storetest.Open(t, store.SQLite, store.Options{})
	w := newWorld(t, st)
	b := &gateBinder{db: db, url: url}
	w.s.Connections = b
	w.s.FlushEvery = time.Nanosecond // every batch is flushed and checkpointed
	f := w.flow(t, "copy", `name: copy
read: {connection: db, sql: {query: "SELECT id, name, qty FROM src", cursor_column: id, key: id, batch_size: 2}}
entity_id: .id
steps:
  - log: '{id}'
  - map: '{id, name, qty: (.qty * 10)}'
  - write: {connection: db, sql: {table: dst, mode: upsert, key: [id]}}
`)
	return w, b, f
}

func (w *world) queued(t *testing.T, f *store.Flow, trigger string) *store.Run {
	t.Helper()
	r := &store.Run{ProjectID: f.ProjectID, FlowID: f.ID, PipeID: f.PipeID, Trigger: trigger, TriggeredBy: w.user.ID}
	if err := w.st.Writer().CreateRun(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return r
}

func (w *world) load(t *testing.T, id string) *store.Run {
	t.Helper()
	r, err := w.st.Reader().RunByID(context.Background(), "", id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestExecuteResumesFromCheckpoint stops a run's worker midway, as a
// shutdown does (the job's context ends), and runs the job again: the
// second attempt goes on after the last checkpoint, and every record is
// counted once, its failure and log values kept from the first attempt.
func TestExecuteResumesFromCheckpoint(t *testing.T) {
	w, b, f := sqlWorld(t)
	r := w.queued(t, f, store.TriggerManual)

	// Attempt 1: the worker stops before the fourth batch.
	ctx, stop := context.WithCancel(context.Background())
	b.setGate(func(ctx context.Context, n int) error {
		if n == 4 {
			stop()
			return fmt.Errorf("sql: read: %w", ctx.Err())
		}
		return nil
	})
	if err := w.s.Execute(ctx, r.ID); !errors.Is(err, context.Canceled) {
		t.Fatalf("a stopped attempt returned %v, want context.Canceled so the queue retries it", err)
	}
	got := w.load(t, r.ID)
	if got.Status != store.RunRunning || got.Read != 6 || got.Failed != 1 || got.Succeeded != 5 || got.Checkpoint != `{"cursor":6}` {
		t.Fatalf("after the stopped attempt: %+v", got)
	}

	// Attempt 2 goes on from row 7.
	b.setGate(nil)
	if err := w.s.Execute(context.Background(), r.ID); err != nil {
		t.Fatal(err)
	}
	if b.rows != 4 {
		t.Errorf("the second attempt read %d rows, want the 4 after the checkpoint", b.rows)
	}
	got = w.load(t, r.ID)
	if got.Status != store.RunPartiallyFailed || got.Read != 10 || got.Succeeded != 9 || got.Failed != 1 || got.Skipped != 0 {
		t.Errorf("final run %+v, want 10 read, 9 succeeded, 1 failed", got)
	}
	fs, err := w.st.Reader().ListRunFailures(context.Background(), r.ID, 0, 100)
	if err != nil || len(fs) != 1 || fs[0].EntityID != "3" {
		t.Errorf("failures %+v (%v), want the one of entity 3", fs, err)
	}
	logs, err := w.st.Reader().ListRunLogs(context.Background(), r.ID, 0, 100)
	if err != nil || len(logs) != 10 {
		t.Errorf("%d log entries (%v), want one per record", len(logs), err)
	}
	var n int
	if err := b.db.QueryRow(`SELECT COUNT(*) FROM dst`).Scan(&n); err != nil || n != 9 {
		t.Errorf("dst has %d rows (%v), want 9", n, err)
	}
}

// TestExecuteSeesCancelRequest cancels a running run through the store,
// as an API node does when another node works the run: the working node
// sees it at its next heartbeat and ends the run as cancelled.
func TestExecuteSeesCancelRequest(t *testing.T) {
	w, b, f := sqlWorld(t)
	w.s.FlushEvery = time.Millisecond
	r := w.queued(t, f, store.TriggerManual)
	reached := make(chan struct{})
	b.setGate(func(ctx context.Context, n int) error {
		if n == 2 {
			close(reached)
			<-ctx.Done() // a batch that takes until the run is cancelled
			return ctx.Err()
		}
		return nil
	})
	done := make(chan error, 1)
	go func() { done <- w.s.Execute(context.Background(), r.ID) }()
	<-reached
	if _, err := w.st.Writer().CancelRun(context.Background(), f.ProjectID, r.ID, "test"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second): // a hang guard
		t.Fatal("the run did not see its cancel request")
	}
	if got := w.load(t, r.ID); got.Status != store.RunCancelled || got.FinishedAt == nil {
		t.Errorf("run %+v, want cancelled", got)
	}

	// A run asked to cancel while no node worked it ends cancelled when
	// its job comes.
	r = w.queued(t, f, store.TriggerManual)
	if _, err := w.st.Writer().BeginRun(context.Background(), r.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := w.st.Writer().CancelRun(context.Background(), f.ProjectID, r.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if err := w.s.Execute(context.Background(), r.ID); err != nil {
		t.Fatal(err)
	}
	if got := w.load(t, r.ID); got.Status != store.RunCancelled {
		t.Errorf("run %+v, want cancelled", got)
	}
}

// TestSweep ends the runs no worker will finish, on each dialect, with a
// settable clock: a running run that stopped reporting, a queued run
// whose job is gone, and a stuck run someone asked to cancel; runs with a
// live job and a fresh heartbeat stay as they are.
func TestSweep(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			var mu sync.Mutex
			now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			st := storetest.Open(t, d, store.Options{Now: clock})
			w := newWorld(t, st)
			w.s.StuckAfter = time.Hour
			q, err := queue.New(st, queue.Options{Register: w.s.Register})
			if err != nil {
				t.Fatal(err)
			}
			f := w.flow(t, "orders", fmt.Sprintf(doc, "orders"))
			var lastJob int64
			withJob := func() *store.Run {
				r := &store.Run{ProjectID: f.ProjectID, FlowID: f.ID, PipeID: f.PipeID, Trigger: store.TriggerManual}
				if err := st.InTx(ctx, func(sq *store.Q) error {
					if err := sq.CreateRun(ctx, r); err != nil {
						return err
					}
					var err error
					lastJob, err = q.InsertTx(ctx, sq, runs.RunFlowArgs{RunID: r.ID}, &river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)})
					return err
				}); err != nil {
					t.Fatal(err)
				}
				return r
			}
			begin := func(r *store.Run) {
				if ok, err := st.Writer().BeginRun(ctx, r.ID, true); err != nil || !ok {
					t.Fatalf("begin: %v %v", ok, err)
				}
			}
			queuedLive := withJob()
			runningLive := withJob()
			begin(runningLive)
			queuedNoJob := w.queued(t, f, store.TriggerManual)
			// An async dynamic call's run whose job is gone is swept; a
			// sync call's run, which never has a job, is judged by its
			// heartbeat alone.
			asyncNoJob := w.queued(t, f, store.TriggerDynamic)
			syncRunning := w.queued(t, f, store.TriggerDynamic)
			begin(syncRunning)
			discarded := withJob()
			begin(discarded)
			// Its job failed its last attempt.
			if _, err := st.WriteDB().Exec(`UPDATE river_job SET state = 'discarded', finalized_at = $1 WHERE id = $2`, time.Now().UTC(), lastJob); err != nil {
				t.Fatal(err)
			}
			cancelledNoHeart := withJob()
			begin(cancelledNoHeart)
			if _, err := st.Writer().CancelRun(ctx, f.ProjectID, cancelledNoHeart.ID, "test"); err != nil {
				t.Fatal(err)
			}

			n, err := w.s.Sweep(ctx)
			if err != nil || n != 3 {
				t.Fatalf("first sweep ended %d runs (%v), want 3", n, err)
			}
			for _, r := range []*store.Run{queuedNoJob, asyncNoJob, discarded} {
				if got := w.load(t, r.ID); got.Status != store.RunFailed || !strings.Contains(got.Error, "queue job of this run is gone") || got.FinishedAt == nil {
					t.Errorf("run whose job is gone: %+v", got)
				}
			}
			for _, r := range []*store.Run{queuedLive, runningLive, cancelledNoHeart, syncRunning} {
				if got := w.load(t, r.ID); got.Finished() {
					t.Errorf("run %s ended too early: %+v", r.ID, got)
				}
			}

			// Two hours later, nothing was heard from the running runs.
			mu.Lock()
			now = now.Add(2 * time.Hour)
			mu.Unlock()
			if n, err := w.s.Sweep(ctx); err != nil || n != 3 {
				t.Fatalf("second sweep ended %d runs (%v), want 3", n, err)
			}
			for _, id := range []string{runningLive.ID, syncRunning.ID} {
				if r := w.load(t, id); r.Status != store.RunFailed || !strings.Contains(r.Error, "stopped reporting") {
					t.Errorf("silent running run: %+v", r)
				}
			}
			if r := w.load(t, cancelledNoHeart.ID); r.Status != store.RunCancelled {
				t.Errorf("silent run asked to cancel: %+v", r)
			}
			if r := w.load(t, queuedLive.ID); r.Status != store.RunQueued {
				t.Errorf("queued run with a live job: %+v", r)
			}
			// A worker that comes back late leaves the ended run as it is.
			if err := w.s.Execute(ctx, runningLive.ID); err != nil {
				t.Fatal(err)
			}
			if r := w.load(t, runningLive.ID); r.Status != store.RunFailed {
				t.Errorf("a late worker changed a swept run: %+v", r)
			}
		})
	}
}
