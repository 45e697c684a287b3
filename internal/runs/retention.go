package runs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/consolelog"
	"github.com/sluice-dev/sluice/internal/project"
	"github.com/sluice-dev/sluice/internal/store"
)

// Actions recorded by deletions by date and by retention.
const (
	// ActionRunDeleteBefore is one batch of a deletion of a project's
	// runs before a date.
	ActionRunDeleteBefore = "run.delete_before"
	// ActionRetentionPurge is what one retention pass deleted in a
	// project (and, with no project, in the activity log as a whole).
	ActionRetentionPurge = "retention.purge"
)

// DefaultRetentionEvery is how often the retention pass runs.
const DefaultRetentionEvery = time.Hour

// DefaultRetentionBatch is how many rows one step of a deletion removes.
const DefaultRetentionBatch = 500

// LogDeleter deletes the console logs of runs about to be deleted: their
// blobs, then their rows (the rows would go with the runs, the blobs
// would not). consolelog.Service is one.
type LogDeleter interface {
	DeleteRunLogs(ctx context.Context, runIDs []string) error
}

// ConsoleLogPurger deletes console logs, each one's blob before its row; a
// log whose blob could not be deleted keeps its row and is in the error.
// consolelog.Service is one.
type ConsoleLogPurger interface {
	DeleteLogs(ctx context.Context, logs []*store.ConsoleLog) error
}

// OrphanSweeper deletes blobs no console log points at, and says how many
// (consolelog.Service is one).
type OrphanSweeper interface {
	SweepOrphans(ctx context.Context) (int, error)
}

// ConsoleLogDeleter deletes console logs by log and by run.
type ConsoleLogDeleter interface {
	LogDeleter
	ConsoleLogPurger
}

// deleteRunLogs deletes the console logs of runs through d, if any.
func deleteRunLogs(ctx context.Context, d LogDeleter, runIDs []string) error {
	if d == nil || len(runIDs) == 0 {
		return nil
	}
	if err := d.DeleteRunLogs(ctx, runIDs); err != nil {
		return fmt.Errorf("delete the console logs of %d runs: %w", len(runIDs), err)
	}
	return nil
}

// logDeleter is ConsoleLogs, else the console-log service the runs
// capture with, else nil.
func (s *Service) logDeleter() LogDeleter {
	if s.ConsoleLogs != nil {
		return s.ConsoleLogs
	}
	if s.Console != nil {
		return s.Console
	}
	return nil
}

// DeleteBefore deletes the finished runs of g's project created before
// before, with their failures, logs and console logs (blobs first), in
// batches; queued and running runs are kept. Each batch commits with an
// audit event of its own, so what was deleted is recorded even if a later
// batch fails. It gives how many runs went.
func (s *Service) DeleteBefore(ctx context.Context, p *account.Principal, g *access.Grant, before time.Time, c account.Client) (int64, error) {
	var total int64
	for {
		var ids []string
		err := s.st.InTx(ctx, func(q *store.Q) (err error) {
			if err := recheck(ctx, q, g.Project.ID, p, access.ConfigureProject); err != nil {
				return err
			}
			ids, err = q.FinishedRunIDs(ctx, g.Project.ID, before, DefaultRetentionBatch)
			return err
		})
		if err != nil || len(ids) == 0 {
			return total, err
		}
		if err := deleteRunLogs(ctx, s.logDeleter(), ids); err != nil {
			return total, err
		}
		var n int64
		err = s.st.InTx(ctx, func(q *store.Q) (err error) {
			if err := recheck(ctx, q, g.Project.ID, p, access.ConfigureProject); err != nil {
				return err
			}
			if n, err = q.DeleteFinishedRuns(ctx, g.Project.ID, ids); err != nil || n == 0 {
				return err
			}
			_, err = audit.Append(ctx, q, audit.Event{ActorID: p.User.ID, ActorEmail: p.User.Email, IP: c.IP, ProjectID: g.Project.ID,
				Action: ActionRunDeleteBefore, Target: "project:" + g.Project.ID, Outcome: audit.Success,
				Detail: map[string]any{"before": before.UTC().Format(time.RFC3339), "deleted": n}})
			return err
		})
		if err != nil {
			return total, err
		}
		total += n
		// n == 0: every run listed was deleted meanwhile; stop rather
		// than list them again.
		if len(ids) < DefaultRetentionBatch || n == 0 {
			return total, nil
		}
	}
}

// Retention deletes, on a schedule, what projects keep longer than their
// plan (shortened by their settings) allows: finished runs with their
// failures and logs, console logs (blobs and rows), and the oldest part of
// the activity log. Its job runs on the queue's elected leader only.
type Retention struct {
	st  *store.Store
	log *slog.Logger
	// ConsoleLogs deletes console logs past their retention and those
	// of runs before the runs (nil: console logs are not deleted, as
	// their rows must not go without their blobs; runs are).
	ConsoleLogs ConsoleLogDeleter
	// Every is the interval of the pass (0: DefaultRetentionEvery).
	Every time.Duration
	// Batch is how many rows one step deletes (0: DefaultRetentionBatch).
	Batch int

	deleted *prometheus.CounterVec
	passes  *prometheus.CounterVec
}

// NewRetention builds the retention pass over st.
func NewRetention(st *store.Store, log *slog.Logger) *Retention {
	if log == nil {
		log = slog.Default()
	}
	return &Retention{st: st, log: log,
		deleted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_retention_deleted_total",
			Help: "Rows (and blobs) the retention pass deleted, by kind: runs, console_logs, audit_events, orphan_blobs.",
		}, []string{"kind"}),
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_retention_passes_total",
			Help: "Retention passes, by outcome: ok or error.",
		}, []string{"outcome"}),
	}
}

// Collectors are the retention metrics, for the metrics registry.
func (r *Retention) Collectors() []prometheus.Collector {
	return []prometheus.Collector{r.deleted, r.passes}
}

func (r *Retention) batch() int {
	if r.Batch > 0 {
		return r.Batch
	}
	return DefaultRetentionBatch
}

// RetentionArgs is the periodic job of the retention pass.
type RetentionArgs struct{}

// Kind names the job in the queue.
func (RetentionArgs) Kind() string { return "retention_purge" }

// InsertOpts: a pass that failed is not retried; the next one comes and,
// being idempotent, finishes the work.
func (RetentionArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 1} }

// RetentionWorker works RetentionArgs.
type RetentionWorker struct {
	river.WorkerDefaults[RetentionArgs]
	R *Retention
}

// Work runs one pass.
func (w *RetentionWorker) Work(ctx context.Context, _ *river.Job[RetentionArgs]) error {
	_, err := w.R.Purge(ctx)
	return err
}

// Register adds the retention worker to a queue's workers.
func (r *Retention) Register(w *river.Workers) { river.AddWorker(w, &RetentionWorker{R: r}) }

// Periodic is the pass, every Every and when a worker starts, on the
// queue's elected leader only.
func (r *Retention) Periodic() []*river.PeriodicJob {
	every := r.Every
	if every <= 0 {
		every = DefaultRetentionEvery
	}
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(every),
		func() (river.JobArgs, *river.InsertOpts) { return RetentionArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})}
}

// Purged is what one pass deleted.
type Purged struct {
	Runs        int64
	ConsoleLogs int64
	AuditEvents int64
	// OrphanBlobs counts the blobs deleted that no console log pointed at
	// (instance-wide).
	OrphanBlobs int
	// Projects holds the counts per project that lost something; the
	// key "" holds audit events of no (or of a deleted) project.
	Projects map[string]*Purged
}

func (p *Purged) of(projectID string) *Purged {
	if p.Projects[projectID] == nil {
		p.Projects[projectID] = &Purged{}
	}
	return p.Projects[projectID]
}

func (p *Purged) any() bool { return p.Runs+p.ConsoleLogs+p.AuditEvents > 0 }

// effectiveDays is the retention a project keeps: its own setting when it
// shortens the plan's, else the plan's; 0 keeps for ever (a plan of 0
// days has no limit).
func effectiveDays(plan, own int) int {
	if own > 0 && (plan <= 0 || own < plan) {
		return own
	}
	return max(plan, 0)
}

// Purge runs one pass: per project, console logs older than the
// console-log retention (blob, then row), then finished runs older than
// the run-log retention (their console logs first); then the start of the
// activity log up to the first event still within its project's audit
// retention. What it deleted goes to the metrics and, per project, to one
// audit event. A second pass right after deletes nothing. On SQLite the
// freed pages go back to the file system.
func (r *Retention) Purge(ctx context.Context) (*Purged, error) {
	out := &Purged{Projects: map[string]*Purged{}}
	err := r.purge(ctx, out)
	// Blobs no row points at (a process stopped between a log's blob and
	// its row, or its run was deleted while it was being stored).
	if sw, ok := r.ConsoleLogs.(OrphanSweeper); ok {
		n, serr := sw.SweepOrphans(ctx)
		out.OrphanBlobs = n
		r.deleted.WithLabelValues("orphan_blobs").Add(float64(n))
		err = errors.Join(err, serr)
	}
	if out.any() {
		if rerr := r.record(ctx, out); rerr != nil {
			err = errors.Join(err, rerr)
		}
		if verr := r.st.ReclaimSpace(ctx); verr != nil {
			err = errors.Join(err, verr)
		}
	}
	r.deleted.WithLabelValues("runs").Add(float64(out.Runs))
	r.deleted.WithLabelValues("console_logs").Add(float64(out.ConsoleLogs))
	r.deleted.WithLabelValues("audit_events").Add(float64(out.AuditEvents))
	outcome := "ok"
	if err != nil {
		outcome = "error"
		r.log.Warn("retention pass", "err", err)
	}
	r.passes.WithLabelValues(outcome).Inc()
	return out, err
}

func (r *Retention) purge(ctx context.Context, out *Purged) error {
	rd := r.st.Reader()
	now := r.st.Now()
	projects, err := rd.ProjectRetentions(ctx)
	if err != nil {
		return err
	}
	def, err := rd.DefaultPlan(ctx)
	if err != nil {
		return err
	}
	days := func(d int) time.Time { return now.Add(-time.Duration(d) * 24 * time.Hour) }
	var errs []error
	auditCut := map[string]time.Time{}
	known := map[string]bool{}
	for _, pr := range projects {
		known[pr.ProjectID] = true
		if err := ctx.Err(); err != nil {
			return err
		}
		settings, err := project.ParseSettings(pr.Settings)
		if err != nil {
			// The plan still bounds a project whose settings are unreadable.
			errs = append(errs, fmt.Errorf("project %s: %w", pr.ProjectID, err))
		}
		if d := pr.AuditDays; d > 0 {
			auditCut[pr.ProjectID] = days(d)
		}
		if d := effectiveDays(pr.ConsoleLogDays, settings.Retention.ConsoleLogDays); d > 0 {
			n, err := r.purgeConsoleLogs(ctx, pr.ProjectID, days(d))
			out.ConsoleLogs += n
			out.of(pr.ProjectID).ConsoleLogs += n
			if err != nil {
				errs = append(errs, fmt.Errorf("project %s: console logs: %w", pr.ProjectID, err))
			}
		}
		if d := effectiveDays(pr.RunLogDays, settings.Retention.RunLogDays); d > 0 {
			n, err := r.purgeRuns(ctx, pr.ProjectID, days(d))
			out.Runs += n
			out.of(pr.ProjectID).Runs += n
			if err != nil {
				errs = append(errs, fmt.Errorf("project %s: runs: %w", pr.ProjectID, err))
			}
		}
	}
	// Events of no project, or of a project deleted since, keep the
	// default plan's audit retention.
	var defCut *time.Time
	if def.AuditRetentionDays > 0 {
		c := days(def.AuditRetentionDays)
		defCut = &c
	}
	if err := r.purgeAudit(ctx, out, func(projectID string) (time.Time, bool) {
		if c, ok := auditCut[projectID]; ok {
			return c, true
		}
		if known[projectID] || defCut == nil {
			// A plan, or a default plan, with no audit limit.
			return time.Time{}, false
		}
		return *defCut, true
	}); err != nil {
		errs = append(errs, fmt.Errorf("activity log: %w", err))
	}
	return errors.Join(errs...)
}

// purgeConsoleLogs deletes a project's console logs created before cut.
func (r *Retention) purgeConsoleLogs(ctx context.Context, projectID string, cut time.Time) (int64, error) {
	if r.ConsoleLogs == nil {
		return 0, nil
	}
	var total int64
	// ListConsoleLogs gives at most 500 at once.
	limit := min(r.batch(), 500)
	for {
		logs, err := r.st.Reader().ListConsoleLogs(ctx, store.ConsoleLogFilter{ProjectID: projectID, Before: cut, Limit: limit})
		if err != nil || len(logs) == 0 {
			return total, err
		}
		if err := r.ConsoleLogs.DeleteLogs(ctx, logs); err != nil {
			// Some went: count those, and leave the rest to the next pass
			// rather than retry a failing blob store now.
			for _, l := range logs {
				if _, gerr := r.st.Reader().ConsoleLogByID(ctx, projectID, l.ID); errors.Is(gerr, store.ErrNotFound) {
					total++
				}
			}
			return total, err
		}
		total += int64(len(logs))
		if len(logs) < limit {
			return total, nil
		}
	}
}

// purgeRuns deletes a project's finished runs created before cut.
func (r *Retention) purgeRuns(ctx context.Context, projectID string, cut time.Time) (int64, error) {
	var total int64
	for {
		ids, err := r.st.Reader().FinishedRunIDs(ctx, projectID, cut, r.batch())
		if err != nil || len(ids) == 0 {
			return total, err
		}
		var d LogDeleter
		if r.ConsoleLogs != nil {
			d = r.ConsoleLogs
		}
		if err := deleteRunLogs(ctx, d, ids); err != nil {
			return total, err
		}
		n, err := r.st.Writer().DeleteFinishedRuns(ctx, projectID, ids)
		total += n
		if err != nil || len(ids) < r.batch() || n == 0 {
			return total, err
		}
	}
}

// purgeAudit deletes the activity log from its start up to the last event
// before the first one still within its retention (cut gives an event's
// project's cut-off, false for none). The log is one hash chain over
// every project: only a prefix can go without breaking it (audit.Verify
// accepts a first event whose predecessor is gone), so an event past its
// retention behind one that is not waits for it. The newest event always
// stays, so the next event has a predecessor to name; the anchor
// (store.AuditAnchor) keeps the hash of the last event deleted.
func (r *Retention) purgeAudit(ctx context.Context, out *Purged, cut func(projectID string) (time.Time, bool)) error {
	for {
		// One more than a batch: the last event read is never deleted in
		// this step, so the newest event of the log always stays.
		evs, err := r.st.Reader().OldestAuditEvents(ctx, r.batch()+1)
		if err != nil {
			return err
		}
		last := -1
		for i, e := range evs[:max(len(evs)-1, 0)] {
			c, ok := cut(e.ProjectID)
			if !ok || !e.At.Before(c) {
				break
			}
			last = i
		}
		if last < 0 {
			return nil
		}
		var n int64
		if err := r.st.InTx(ctx, func(q *store.Q) (err error) {
			n, err = q.DeleteAuditThrough(ctx, evs[last])
			return err
		}); err != nil {
			return err
		}
		out.AuditEvents += n
		for _, e := range evs[:last+1] {
			out.of(e.ProjectID).AuditEvents++
		}
		if last < len(evs)-2 {
			return nil
		}
	}
}

// record appends one audit event per project that lost something, and
// one of no project when the activity log was cut (with where it now
// starts), in one transaction.
func (r *Retention) record(ctx context.Context, out *Purged) error {
	var anchor *store.AuditAnchor
	if out.AuditEvents > 0 {
		a, err := r.st.Reader().GetAuditAnchor(ctx)
		if err != nil {
			return err
		}
		anchor = a
	}
	projects, err := r.st.Reader().ProjectRetentions(ctx)
	if err != nil {
		return err
	}
	return r.st.InTx(ctx, func(q *store.Q) error {
		for _, pr := range projects {
			p := out.Projects[pr.ProjectID]
			if p == nil || !p.any() {
				continue
			}
			if _, err := audit.Append(ctx, q, audit.Event{ProjectID: pr.ProjectID, Action: ActionRetentionPurge,
				Target: "project:" + pr.ProjectID, Outcome: audit.Success,
				Detail: map[string]any{"runs": p.Runs, "console_logs": p.ConsoleLogs, "audit_events": p.AuditEvents}}); err != nil {
				return err
			}
		}
		if anchor == nil {
			return nil
		}
		_, err := audit.Append(ctx, q, audit.Event{Action: ActionRetentionPurge, Target: "audit_log", Outcome: audit.Success,
			Detail: map[string]any{"audit_events": out.AuditEvents, "through_seq": anchor.ThroughSeq,
				"through_hash": anchor.ThroughHash, "through_at": anchor.ThroughAt.Format(time.RFC3339Nano)}})
		return err
	})
}

// consolelog.Service deletes console logs for runs and for retention.
var _ ConsoleLogDeleter = (*consolelog.Service)(nil)
