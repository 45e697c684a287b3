package runs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/sluice-dev/sluice/internal/flow"
	"github.com/sluice-dev/sluice/internal/store"
)

// DefaultTickEvery is how often the scheduler looks for due schedules. A
// run starts at most this long after its due time.
const DefaultTickEvery = 15 * time.Second

// fireRetention is how long firings stay listed. The latest firing of
// each schedule is kept whatever its age: the scheduler counts from it.
const fireRetention = 30 * 24 * time.Hour

// maxCatchUp bounds the walk over due times missed during a downtime
// (a schedule every minute, down for two years, is about a million).
const maxCatchUp = 1 << 21

// Scheduler fires flows' schedules. Its tick is a periodic queue job, so
// with several worker nodes only River's elected leader runs it; and every
// due time is recorded under a unique key in the same transaction as the
// run it starts, so even two leaders overlapping for a moment start one
// run per due time.
//
// A due time is handled once: a run is started (trigger schedule), or the
// firing is recorded as skipped when a run of the flow is still queued or
// running. After a downtime, each schedule fires once, for its latest due
// time, and the due times before it are recorded as one missed row.
// Saving, enabling or re-enabling a flow starts its schedules afresh from
// that moment: a due time before the change is never fired late.
type Scheduler struct {
	s *Service
	// Now is the clock the tick fires by (default: the store's clock).
	Now func() time.Time
	// TickEvery is the tick's interval (0: DefaultTickEvery).
	TickEvery time.Duration
	log       *slog.Logger

	mu sync.Mutex
	// compiled caches each flow's schedules by version, so a tick does not
	// compile every scheduled flow's jq again.
	compiled map[string]compiledFlow
}

type compiledFlow struct {
	version   int
	schedules []flow.CompiledSchedule
	clocks    []dueClock
	err       error
}

// NewScheduler builds the scheduler of s's flows.
func NewScheduler(s *Service) *Scheduler {
	return &Scheduler{s: s, log: s.log, compiled: map[string]compiledFlow{}}
}

// ScheduleTickArgs is the periodic job that fires due schedules.
type ScheduleTickArgs struct{}

// Kind names the job in the queue.
func (ScheduleTickArgs) Kind() string { return "schedule_tick" }

// InsertOpts: a tick that failed is not retried; the next one comes soon.
func (ScheduleTickArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 1} }

// ScheduleTickWorker works ScheduleTickArgs.
type ScheduleTickWorker struct {
	river.WorkerDefaults[ScheduleTickArgs]
	S *Scheduler
}

// Work runs one tick.
func (w *ScheduleTickWorker) Work(ctx context.Context, _ *river.Job[ScheduleTickArgs]) error {
	_, err := w.S.Tick(ctx)
	return err
}

// Timeout bounds a tick well below its interval.
func (w *ScheduleTickWorker) Timeout(*river.Job[ScheduleTickArgs]) time.Duration {
	return 2 * time.Minute
}

// Register adds the tick's worker to a queue's workers.
func (sc *Scheduler) Register(w *river.Workers) { river.AddWorker(w, &ScheduleTickWorker{S: sc}) }

// Periodic is the tick as a periodic job: River inserts it on the leader
// only.
func (sc *Scheduler) Periodic() []*river.PeriodicJob {
	every := sc.TickEvery
	if every <= 0 {
		every = DefaultTickEvery
	}
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(every),
		func() (river.JobArgs, *river.InsertOpts) { return ScheduleTickArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})}
}

func (sc *Scheduler) now() time.Time {
	if sc.Now != nil {
		return sc.Now().UTC()
	}
	return sc.s.st.Now()
}

// Firing is what a tick did for one due time.
type Firing struct {
	FlowID        string
	ScheduleIndex int
	FireAt        time.Time
	Outcome       string
	RunID         string
	// Missed is how many earlier due times were recorded as missed.
	Missed int
}

// errFiredElsewhere says another scheduler handled the due time first.
var errFiredElsewhere = errors.New("the due time was handled by another scheduler")

// Tick fires every schedule due by now that has not fired yet, and
// reports what it did. A flow that fails is logged and skipped; the
// others still fire.
func (sc *Scheduler) Tick(ctx context.Context) ([]Firing, error) {
	if sc.s.queue == nil {
		return nil, errors.New("runs: scheduler: no queue")
	}
	now := sc.now()
	r := sc.s.st.Reader()
	flows, err := r.ListScheduledFlows(ctx)
	if err != nil {
		return nil, err
	}
	last, err := r.LastScheduleFires(ctx, "")
	if err != nil {
		return nil, err
	}
	var out []Firing
	seen := make(map[string]bool, len(flows))
	for _, f := range flows {
		seen[f.ID] = true
		scheds, clocks, err := sc.schedules(f)
		if err != nil {
			sc.log.Warn("runs: scheduled flow does not compile; its schedules do not fire", "flow", f.ID, "err", err)
			continue
		}
		for i, sch := range scheds {
			if err := ctx.Err(); err != nil {
				return out, err
			}
			base := f.UpdatedAt
			if t, ok := last[store.ScheduleKey{FlowID: f.ID, Index: i}]; ok && t.After(base) {
				base = t
			}
			due := clocks[i]
			first := due.Next(base)
			if first.IsZero() || first.After(now) {
				continue
			}
			// After a downtime: fire the latest due time, and record the
			// ones before it as missed.
			latest, prev, missed := first, time.Time{}, 0
			for range maxCatchUp {
				next := due.Next(latest)
				if next.IsZero() || next.After(now) {
					break
				}
				latest, prev, missed = next, latest, missed+1
			}
			fr, err := sc.fire(ctx, f, i, sch, first, prev, latest, missed)
			switch {
			case errors.Is(err, errFiredElsewhere):
			case err != nil:
				sc.log.Error("runs: firing a schedule", "flow", f.ID, "schedule", i, "err", err)
			default:
				out = append(out, fr)
			}
		}
	}
	sc.forget(seen)
	if _, err := sc.s.st.Writer().PruneScheduleFires(ctx, now.Add(-fireRetention)); err != nil {
		sc.log.Warn("runs: pruning old schedule firings", "err", err)
	}
	return out, nil
}

// Label is how a schedule reads in a run's triggered_by and in firings:
// "schedule[0]: */15 * * * * America/Chicago".
func Label(i int, sch flow.CompiledSchedule) string {
	return fmt.Sprintf("schedule[%d]: %s", i, describe(sch))
}

func describe(sch flow.CompiledSchedule) string {
	return sch.Cron + " " + sch.Location.String()
}

// fire handles the due time latest of schedule i of f in one transaction:
// the missed row for the due times first..prev (when missed > 0), then
// the firing itself with the run it starts and its job.
func (sc *Scheduler) fire(ctx context.Context, f *store.Flow, i int, sch flow.CompiledSchedule, first, prev, latest time.Time, missed int) (Firing, error) {
	fr := Firing{FlowID: f.ID, ScheduleIndex: i, FireAt: latest.UTC(), Missed: missed}
	err := sc.s.st.InTx(ctx, func(q *store.Q) error {
		ok, err := q.FlowSchedulable(ctx, f.ID, f.Version)
		if err != nil {
			return err
		}
		if !ok {
			// Disabled, changed or deleted since the tick listed it: the
			// next tick sees it as it is now.
			return errFiredElsewhere
		}
		if missed > 0 {
			ok, err := q.InsertScheduleFire(ctx, &store.ScheduleFire{FlowID: f.ID, ScheduleIndex: i, FireAt: first, Schedule: describe(sch),
				Outcome: store.FireMissed, MissedCount: missed,
				Reason: fmt.Sprintf("%d due times from %s to %s passed while no scheduler ran; the schedule fired once, for %s",
					missed, first.UTC().Format(time.RFC3339), prev.UTC().Format(time.RFC3339), latest.UTC().Format(time.RFC3339))})
			if err != nil {
				return err
			}
			if !ok {
				return errFiredElsewhere
			}
		}
		fire := &store.ScheduleFire{FlowID: f.ID, ScheduleIndex: i, FireAt: latest, Schedule: describe(sch)}
		active, err := q.ActiveRunOfFlow(ctx, f.ID)
		if err != nil {
			return err
		}
		if active != "" {
			fire.Outcome, fire.RunID = store.FireSkipped, active
			fire.Reason = fmt.Sprintf("run %s of this flow was still queued or running", active)
		} else {
			fire.Outcome, fire.RunID = store.FireStarted, store.NewID()
		}
		ok, err = q.InsertScheduleFire(ctx, fire)
		if err != nil {
			return err
		}
		if !ok {
			return errFiredElsewhere
		}
		fr.Outcome, fr.RunID = fire.Outcome, fire.RunID
		if fire.Outcome != store.FireStarted {
			return nil
		}
		run := &store.Run{ID: fire.RunID, ProjectID: f.ProjectID, FlowID: f.ID, PipeID: f.PipeID, Trigger: store.TriggerSchedule, TriggeredBy: Label(i, sch)}
		if err := q.CreateRun(ctx, run); err != nil {
			return err
		}
		_, err = sc.s.queue.InsertTx(ctx, q, RunFlowArgs{RunID: run.ID}, nil)
		return err
	})
	return fr, err
}

// schedules compiles f's schedules, once per version.
func (sc *Scheduler) schedules(f *store.Flow) ([]flow.CompiledSchedule, []dueClock, error) {
	sc.mu.Lock()
	c, ok := sc.compiled[f.ID]
	sc.mu.Unlock()
	if ok && c.version == f.Version {
		return c.schedules, c.clocks, c.err
	}
	c = compiledFlow{version: f.Version}
	if cf, err := sc.s.flows.get(f); err != nil {
		c.err = err
	} else {
		c.schedules = cf.Schedules
		for _, sch := range cf.Schedules {
			c.clocks = append(c.clocks, newDueClock(sch))
		}
	}
	sc.mu.Lock()
	sc.compiled[f.ID] = c
	sc.mu.Unlock()
	return c.schedules, c.clocks, c.err
}

// forget drops the cache entries of flows no longer scheduled.
func (sc *Scheduler) forget(seen map[string]bool) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for id := range sc.compiled {
		if !seen[id] {
			delete(sc.compiled, id)
		}
	}
}

// ScheduleView is one schedule of a flow with its next due time.
type ScheduleView struct {
	Index    int
	Cron     string
	TimeZone string
	// Next is the next due time the scheduler will fire (zero when the
	// flow or its pipe is disabled); when Due, a due time has passed and
	// fires at the next tick, and Next is now.
	Next time.Time
	Due  bool
	// Last is the latest due time handled (zero when none was).
	Last time.Time
}

// FlowSchedule is a flow's schedules and its recent firings.
type FlowSchedule struct {
	Enabled   bool
	Schedules []ScheduleView
	Fires     []*store.ScheduleFire
}

// Schedule describes a flow's schedules, their next due times and the
// flow's recent firings.
func (sc *Scheduler) Schedule(ctx context.Context, projectID, pipeID, flowID string, limit int) (*FlowSchedule, error) {
	r := sc.s.st.Reader()
	f, err := r.FlowByID(ctx, projectID, pipeID, flowID)
	if err != nil {
		return nil, err
	}
	enabled, err := r.FlowSchedulable(ctx, f.ID, f.Version)
	if err != nil {
		return nil, err
	}
	c, err := flow.Load([]byte(f.Definition))
	if err != nil {
		return nil, fmt.Errorf("the stored flow does not compile: %w", err)
	}
	fires, err := r.ListScheduleFires(ctx, f.ID, limit)
	if err != nil {
		return nil, err
	}
	last, err := r.LastScheduleFires(ctx, f.ID)
	if err != nil {
		return nil, err
	}
	now := sc.now()
	out := &FlowSchedule{Enabled: enabled, Fires: fires, Schedules: []ScheduleView{}}
	for i, sch := range c.Schedules {
		v := ScheduleView{Index: i, Cron: sch.Cron, TimeZone: sch.Location.String()}
		base := f.UpdatedAt
		if t, ok := last[store.ScheduleKey{FlowID: f.ID, Index: i}]; ok {
			v.Last = t
			if t.After(base) {
				base = t
			}
		}
		if enabled {
			v.Next = newDueClock(sch).Next(base).UTC()
			if !v.Next.IsZero() && !v.Next.After(now) {
				v.Next, v.Due = now, true
			}
		}
		out.Schedules = append(out.Schedules, v)
	}
	if out.Fires == nil {
		out.Fires = []*store.ScheduleFire{}
	}
	return out, nil
}
