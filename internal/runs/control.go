package runs

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/store"
)

// DefaultStuckAfter is how long a running run may go without a heartbeat
// before the sweep fails it. It is longer than the hour after which River
// rescues the job of a worker that died, so that job is taken up again
// and goes on from its checkpoint before the sweep gives up on the run.
const DefaultStuckAfter = 90 * time.Minute

// DefaultSweepEvery is how often the sweep looks for stuck runs.
const DefaultSweepEvery = time.Minute

// CancelRun cancels a run of g's project: a queued run is cancelled at
// once; a running run is asked to stop, and the node working it ends it as
// cancelled at its next heartbeat (on this node, at once). A run that
// already finished is a *StateError. The change and its audit event
// commit together. It returns the run as it is after the request.
func (s *Service) CancelRun(ctx context.Context, p *account.Principal, g *access.Grant, id string, c account.Client) (*store.Run, error) {
	var before *store.Run
	err := s.st.InTx(ctx, func(q *store.Q) error {
		if err := recheck(ctx, q, g.Project.ID, p, access.RunFlows); err != nil {
			return err
		}
		var err error
		before, err = q.CancelRun(ctx, g.Project.ID, id, "cancelled by "+p.User.Email)
		if err != nil {
			return err
		}
		if before.Finished() {
			return &StateError{Code: "run_finished", Message: fmt.Sprintf("run %s already finished (%s); only a queued or running run can be cancelled", id, before.Status)}
		}
		_, err = audit.Append(ctx, q, event(p, c, g.Project.ID, audit.ActionRunCancel, id,
			map[string]any{"flow_id": before.FlowID, "pipe_id": before.PipeID, "status": before.Status}))
		return err
	})
	if err != nil {
		return nil, err
	}
	if before.Status == store.RunRunning {
		s.Cancel(id) // the fast path when this node works it
	}
	return s.st.Writer().RunByID(ctx, g.Project.ID, id)
}

// Sweep fails the runs no worker will finish: running runs whose
// heartbeat is older than StuckAfter (their worker was killed), and
// queued or running runs whose queue job is gone (discarded after its
// last attempt, or removed). A stuck run someone asked to cancel ends as
// cancelled. It returns how many runs it ended.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	after := s.StuckAfter
	if after <= 0 {
		after = DefaultStuckAfter
	}
	n := 0
	for {
		stuck, err := s.st.Reader().StuckRuns(ctx, s.st.Now().Add(-after), RunFlowArgs{}.Kind(), 500)
		if err != nil {
			return n, err
		}
		ended := 0
		for _, sr := range stuck {
			var ok bool
			err := s.st.InTx(ctx, func(q *store.Q) error {
				var err error
				if ok, err = q.FailStuckRun(ctx, sr.Run.ID, sr.Reason); err != nil || !ok {
					return err
				}
				// The failure alerts a project asks for go out for a
				// stuck run as for any other that failed.
				run, err := q.RunByID(ctx, "", sr.Run.ID)
				if err != nil {
					return err
				}
				return s.enqueueAlerts(ctx, q, run)
			})
			if err != nil {
				return n, err
			}
			if ok {
				ended++
				s.log.Warn("runs: ended a stuck run", "run", sr.Run.ID, "project", sr.Run.ProjectID, "reason", sr.Reason)
			}
		}
		n += ended
		if len(stuck) < 500 || ended == 0 {
			return n, nil
		}
	}
}

// SweepArgs is the periodic job that ends stuck runs.
type SweepArgs struct{}

// Kind names the job in the queue.
func (SweepArgs) Kind() string { return "runs_sweep" }

// InsertOpts: a sweep that failed is not retried; the next one comes soon.
func (SweepArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 1} }

// SweepWorker works SweepArgs.
type SweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	S *Service
}

// Work sweeps once.
func (w *SweepWorker) Work(ctx context.Context, _ *river.Job[SweepArgs]) error {
	_, err := w.S.Sweep(ctx)
	return err
}

// Periodic is the sweep, every SweepEvery and when a worker starts; the
// queue's elected leader runs it, so once however many nodes there are.
func (s *Service) Periodic() []*river.PeriodicJob {
	every := s.SweepEvery
	if every <= 0 {
		every = DefaultSweepEvery
	}
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(every),
		func() (river.JobArgs, *river.InsertOpts) { return SweepArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})}
}
