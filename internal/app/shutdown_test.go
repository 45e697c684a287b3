package app_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
	_ "modernc.org/sqlite"
)

type holdArgs struct{}

func (holdArgs) Kind() string { return "test_hold" }

// holdWorker signals when it starts and finishes only when released, or
// when its context is cancelled.
type holdWorker struct {
	river.WorkerDefaults[holdArgs]
	started chan struct{}
	release chan struct{}
}

func (w *holdWorker) Work(ctx context.Context, job *river.Job[holdArgs]) error {
	w.started <- struct{}{}
	select {
	case <-w.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(60 * time.Second): // a hang guard, not a timing assertion
		t.Fatalf("%s did not happen", what)
	}
}

func jobState(t *testing.T, d store.Dialect, where string) string {
	t.Helper()
	ctx := context.Background()
	var st *store.Store
	var err error
	if d == store.SQLite {
		st, err = store.OpenSQLite(ctx, where, store.Options{})
	} else {
		st, err = store.OpenPostgres(ctx, where, store.Options{})
	}
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var state string
	if err := st.WriteDB().QueryRowContext(ctx, `SELECT state FROM river_job WHERE kind = 'test_hold'`).Scan(&state); err != nil {
		t.Fatal(err)
	}
	if d == store.SQLite {
		var ok string
		if err := st.WriteDB().QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
			t.Fatalf("integrity_check after shutdown = %q, %v", ok, err)
		}
	}
	return state
}

// TestShutdownLetsJobsFinish: on SIGINT/SIGTERM a job in flight finishes
// before the process exits, and the database is left intact.
func TestShutdownLetsJobsFinish(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			w := &holdWorker{started: make(chan struct{}, 1), release: make(chan struct{})}
			inst := apptest.Start(t, apptest.Options{Dialect: d, Register: func(ws *river.Workers) { river.AddWorker(ws, w) }})
			if _, err := inst.App.Queue.Insert(context.Background(), holdArgs{}, nil); err != nil {
				t.Fatal(err)
			}
			waitFor(t, w.started, "job start")
			stopped := make(chan error, 1)
			go func() { stopped <- inst.Stop() }()
			// Shutdown waits for the job: release it only now.
			select {
			case err := <-stopped:
				t.Fatalf("server stopped (%v) before the job in flight finished", err)
			default:
			}
			close(w.release)
			if err := <-stopped; err != nil {
				t.Fatalf("shutdown: %v", err)
			}
			if s := jobState(t, d, inst.Where); s != "completed" {
				t.Fatalf("job state after graceful shutdown = %q, want completed", s)
			}
		})
	}
}

// TestShutdownReleasesStuckJobs: a job that outlives the grace period is
// cancelled and left to run again, never lost.
func TestShutdownReleasesStuckJobs(t *testing.T) {
	w := &holdWorker{started: make(chan struct{}, 1), release: make(chan struct{})}
	inst := apptest.Start(t, apptest.Options{Args: []string{"--shutdown-grace", "1s"},
		Register: func(ws *river.Workers) { river.AddWorker(ws, w) }})
	if _, err := inst.App.Queue.Insert(context.Background(), holdArgs{}, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, w.started, "job start")
	if err := inst.Stop(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Logf("shutdown reported: %v", err)
	}
	if s := jobState(t, store.SQLite, inst.Where); s != "retryable" && s != "available" {
		t.Fatalf("stuck job state after shutdown = %q, want retryable (released to run again)", s)
	}
}
