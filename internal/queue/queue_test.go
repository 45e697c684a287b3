package queue_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/sluice-dev/sluice/internal/queue"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

type markArgs struct {
	Mark string `json:"mark"`
}

func (markArgs) Kind() string { return "test_mark" }

type markWorker struct {
	river.WorkerDefaults[markArgs]
	ran chan string
}

func (w *markWorker) Work(ctx context.Context, job *river.Job[markArgs]) error {
	w.ran <- job.Args.Mark
	return nil
}

func startQueue(t *testing.T, st *store.Store) (*queue.Queue, chan string) {
	t.Helper()
	ran := make(chan string, 16)
	q, err := queue.New(st, queue.Options{
		Work:         true,
		Workers:      2,
		PollInterval: 50 * time.Millisecond,
		Register:     func(w *river.Workers) { river.AddWorker(w, &markWorker{ran: ran}) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			t.Errorf("stop queue: %v", err)
		}
	})
	return q, ran
}

// waitMark waits for the next job to run. The deadline only keeps a broken
// queue from hanging the suite; it is not a performance assertion.
func waitMark(t *testing.T, ran chan string) string {
	t.Helper()
	select {
	case m := <-ran:
		return m
	case <-time.After(60 * time.Second):
		t.Fatal("no job ran within 60 s")
		return ""
	}
}

// TestJobCommitsWithTransaction is the queue's contract: a job enqueued in
// the same transaction as a row change runs exactly when that transaction
// commits, and never when it rolls back.
func TestJobCommitsWithTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		q, ran := startQueue(t, st)

		// Rolled back: neither the row nor the job exists afterwards.
		boom := errors.New("boom")
		err := st.InTx(ctx, func(sq *store.Q) error {
			if err := sq.CreateUser(ctx, &store.User{Email: "rolled@example.com", PasswordHash: "x"}); err != nil {
				return err
			}
			if _, err := q.InsertTx(ctx, sq, markArgs{Mark: "rolled-back"}, nil); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v", err)
		}

		// Committed: invisible to every other connection until commit.
		err = st.InTx(ctx, func(sq *store.Q) error {
			if err := sq.CreateUser(ctx, &store.User{Email: "kept@example.com", PasswordHash: "x"}); err != nil {
				return err
			}
			if _, err := q.InsertTx(ctx, sq, markArgs{Mark: "committed"}, nil); err != nil {
				return err
			}
			counts, err := st.Reader().JobCounts(ctx)
			if err != nil {
				return err
			}
			if len(counts) != 0 {
				t.Errorf("job visible to other connections before commit: %v", counts)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if m := waitMark(t, ran); m != "committed" {
			t.Fatalf("ran %q, want committed", m)
		}
		// The committed job ran; the rolled-back one was never stored.
		counts, err := st.Reader().JobCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		for _, n := range counts {
			total += n
		}
		if total != 1 {
			t.Fatalf("river_job holds %d jobs (%v), want only the committed one", total, counts)
		}
		select {
		case m := <-ran:
			t.Fatalf("unexpected extra job %q ran", m)
		default:
		}
		if n, _ := st.Reader().CountUsers(ctx); n != 1 {
			t.Fatalf("users = %d, want 1 (the rolled-back row must be gone)", n)
		}
	})
}

func TestInsertTxNeedsTransaction(t *testing.T) {
	st := storetest.Open(t, store.SQLite, store.Options{})
	q, err := queue.New(st, queue.Options{Register: func(w *river.Workers) { river.AddWorker(w, &markWorker{}) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.InsertTx(context.Background(), st.Writer(), markArgs{}, nil); err == nil {
		t.Fatal("InsertTx outside a transaction succeeded")
	}
}
