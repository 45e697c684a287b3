package account

import (
	"context"
	"time"

	"github.com/riverqueue/river"
)

// CleanupArgs is the periodic job that deletes expired sessions. Expired
// sessions already authenticate nothing; this keeps the table small.
type CleanupArgs struct{}

// Kind names the job in the queue.
func (CleanupArgs) Kind() string { return "account_cleanup" }

// CleanupWorker runs CleanupArgs.
type CleanupWorker struct {
	river.WorkerDefaults[CleanupArgs]
	Service *Service
}

// Work deletes sessions past their idle or absolute expiry.
func (w *CleanupWorker) Work(ctx context.Context, job *river.Job[CleanupArgs]) error {
	n, err := w.Service.st.Writer().DeleteExpiredSessions(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		w.Service.log.Info("expired sessions deleted", "count", n)
	}
	return nil
}

// Register adds the account jobs to a queue's workers.
func (s *Service) Register(workers *river.Workers) {
	river.AddWorker(workers, &CleanupWorker{Service: s})
}

// Periodic is the account jobs' schedule: cleanup every hour and at start.
func (s *Service) Periodic() []*river.PeriodicJob {
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
		func() (river.JobArgs, *river.InsertOpts) { return CleanupArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})}
}
