package runs_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/sluice-dev/sluice/internal/flow"
	"github.com/sluice-dev/sluice/internal/queue"
	"github.com/sluice-dev/sluice/internal/runs"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

// clock is a settable clock for the scheduler.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// scheduler builds a scheduler over st with an insert-only queue, on the
// clock c.
func scheduler(t *testing.T, st *store.Store, c *clock) (*runs.Service, *runs.Scheduler) {
	t.Helper()
	s := runs.NewService(st, t.TempDir(), nil)
	sc := runs.NewScheduler(s)
	sc.Now = c.Now
	a := runs.NewAlerter(st, nil)
	q, err := queue.New(st, queue.Options{Register: func(w *river.Workers) { s.Register(w); sc.Register(w); a.Register(w) }})
	if err != nil {
		t.Fatal(err)
	}
	s.SetQueue(q)
	return s, sc
}

const scheduledDoc = `name: %s
trigger: {schedules: [%s]}
read: {file: {path: in.ndjson, format: ndjson}}
entity_id: .id
write: {file: {path: out.ndjson, format: ndjson}}
`

// scheduled stores an enabled flow with the given schedules, saved at
// savedAt (its schedules count from there).
func (w *world) scheduled(t *testing.T, name, schedules string, savedAt time.Time) *store.Flow {
	t.Helper()
	f := w.flow(t, name, fmt.Sprintf(scheduledDoc, name, schedules))
	f.Enabled = true
	ctx := context.Background()
	if err := w.st.Writer().SetFlowEnabled(ctx, f); err != nil {
		t.Fatal(err)
	}
	w.setSaved(t, f, savedAt)
	return f
}

func (w *world) setSaved(t *testing.T, f *store.Flow, at time.Time) {
	t.Helper()
	if _, err := w.st.WriteDB().Exec(`UPDATE flows SET updated_at = $1 WHERE id = $2`, at.UTC(), f.ID); err != nil {
		t.Fatal(err)
	}
	f.UpdatedAt = at.UTC()
}

func fires(t *testing.T, st *store.Store, f *store.Flow) []*store.ScheduleFire {
	t.Helper()
	fs, err := st.Reader().ListScheduleFires(context.Background(), f.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func countRuns(t *testing.T, st *store.Store, f *store.Flow) int {
	t.Helper()
	var n int
	if err := st.WriteDB().QueryRow(`SELECT COUNT(*) FROM runs WHERE flow_id = $1 AND trigger_kind = 'schedule'`, f.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func countJobs(t *testing.T, st *store.Store, kind string) int {
	t.Helper()
	var n int
	if err := st.WriteDB().QueryRow(`SELECT COUNT(*) FROM river_job WHERE kind = $1`, kind).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func finishRun(t *testing.T, st *store.Store, id string) {
	t.Helper()
	if _, err := st.WriteDB().Exec(`UPDATE runs SET status = 'completed' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
}

func tick(t *testing.T, sc *runs.Scheduler) []runs.Firing {
	t.Helper()
	fr, err := sc.Tick(context.Background())
	if err != nil {
		t.Fatalf("tick: %v", err)
	}
	return fr
}

var base = time.Date(2026, time.June, 1, 10, 7, 0, 0, time.UTC)

func TestScheduleFires(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := newWorld(t, st)
		c := &clock{t: base}
		_, sc := scheduler(t, st, c)
		f := w.scheduled(t, "quarterly", `{cron: "*/15 * * * *"}`, base)

		if fr := tick(t, sc); len(fr) != 0 {
			t.Fatalf("fired before the due time: %+v", fr)
		}
		c.Set(time.Date(2026, time.June, 1, 10, 15, 4, 0, time.UTC))
		fr := tick(t, sc)
		if len(fr) != 1 || fr[0].Outcome != store.FireStarted || !fr[0].FireAt.Equal(time.Date(2026, time.June, 1, 10, 15, 0, 0, time.UTC)) {
			t.Fatalf("first firing %+v", fr)
		}
		run, err := st.Reader().RunByID(ctx, f.ProjectID, fr[0].RunID)
		if err != nil {
			t.Fatal(err)
		}
		if run.Trigger != store.TriggerSchedule || run.TriggeredBy != "schedule[0]: */15 * * * * UTC" || run.Status != store.RunQueued {
			t.Errorf("run %+v", run)
		}
		if n := countJobs(t, st, "run_flow"); n != 1 {
			t.Errorf("%d run jobs, want 1", n)
		}
		// The next tick finds the due time handled.
		if fr := tick(t, sc); len(fr) != 0 {
			t.Fatalf("fired twice: %+v", fr)
		}

		// The run is still queued at the next due time: skipped, with its ID.
		c.Set(time.Date(2026, time.June, 1, 10, 30, 1, 0, time.UTC))
		fr = tick(t, sc)
		if len(fr) != 1 || fr[0].Outcome != store.FireSkipped || fr[0].RunID != run.ID {
			t.Fatalf("firing while a run is going %+v", fr)
		}
		got := fires(t, st, f)
		if len(got) != 2 || got[0].Outcome != store.FireSkipped || got[0].RunID != run.ID || !strings.Contains(got[0].Reason, run.ID) ||
			got[1].Outcome != store.FireStarted || got[0].Schedule != "*/15 * * * * UTC" {
			t.Fatalf("fires %+v %+v", got[0], got[1])
		}
		if n := countRuns(t, st, f); n != 1 {
			t.Errorf("%d runs, want 1", n)
		}

		// Once it finished, the next due time starts a run again.
		finishRun(t, st, run.ID)
		c.Set(time.Date(2026, time.June, 1, 10, 45, 0, 0, time.UTC))
		if fr := tick(t, sc); len(fr) != 1 || fr[0].Outcome != store.FireStarted {
			t.Fatalf("firing after the run finished %+v", fr)
		}
		if n := countRuns(t, st, f); n != 2 {
			t.Errorf("%d runs, want 2", n)
		}
	})
}

func TestScheduleDowntime(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		w := newWorld(t, st)
		c := &clock{t: base}
		_, sc := scheduler(t, st, c)
		f := w.scheduled(t, "hourly", `{cron: "0 * * * *", timezone: "Europe/Berlin"}`, base)

		// Down from before 11:00 until 15:20: 11:00 to 14:00 are missed,
		// 15:00 fires once.
		c.Set(time.Date(2026, time.June, 1, 15, 20, 0, 0, time.UTC))
		fr := tick(t, sc)
		if len(fr) != 1 || fr[0].Outcome != store.FireStarted || fr[0].Missed != 4 ||
			!fr[0].FireAt.Equal(time.Date(2026, time.June, 1, 15, 0, 0, 0, time.UTC)) {
			t.Fatalf("catch-up %+v", fr)
		}
		got := fires(t, st, f)
		if len(got) != 2 || got[1].Outcome != store.FireMissed || got[1].MissedCount != 4 ||
			!got[1].FireAt.Equal(time.Date(2026, time.June, 1, 11, 0, 0, 0, time.UTC)) || !strings.Contains(got[1].Reason, "2026-06-01T14:00:00Z") {
			t.Fatalf("fires %+v", got)
		}
		if n := countRuns(t, st, f); n != 1 {
			t.Errorf("%d runs after a downtime, want 1", n)
		}
	})
}

func TestScheduleDisabled(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := newWorld(t, st)
		c := &clock{t: base}
		_, sc := scheduler(t, st, c)
		off := w.scheduled(t, "off", `{cron: "*/5 * * * *"}`, base)
		off.Enabled = false
		if err := st.Writer().SetFlowEnabled(ctx, off); err != nil {
			t.Fatal(err)
		}
		w.setSaved(t, off, base)
		on := w.scheduled(t, "on", `{cron: "*/5 * * * *"}`, base)
		manual := w.flow(t, "manual", fmt.Sprintf(doc, "manual"))
		manual.Enabled = true
		if err := st.Writer().SetFlowEnabled(ctx, manual); err != nil {
			t.Fatal(err)
		}

		c.Set(base.Add(4 * time.Minute))
		fr := tick(t, sc)
		if len(fr) != 1 || fr[0].FlowID != on.ID {
			t.Fatalf("firings %+v, want only the enabled flow's", fr)
		}
		finishRun(t, st, fr[0].RunID)

		// A disabled pipe runs none of its flows on a schedule.
		if _, err := st.WriteDB().Exec(`UPDATE pipes SET enabled = $1 WHERE id = $2`, false, w.pipe.ID); err != nil {
			t.Fatal(err)
		}
		c.Set(base.Add(9 * time.Minute))
		if fr := tick(t, sc); len(fr) != 0 {
			t.Fatalf("a disabled pipe's flow fired: %+v", fr)
		}
		if n := countRuns(t, st, off) + countRuns(t, st, manual); n != 0 {
			t.Errorf("%d runs of flows that must not fire", n)
		}
	})
}

// TestScheduleTwoSchedulers: two schedulers on two connections to one
// database (two leaders overlapping) tick at the same moments; every due
// time starts exactly one run.
func TestScheduleTwoSchedulers(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			st1, where := storetest.OpenURL(t, d, store.Options{})
			var st2 *store.Store
			var err error
			if d == store.SQLite {
				st2, err = store.OpenSQLite(context.Background(), where, store.Options{})
			} else {
				st2, err = store.OpenPostgres(context.Background(), where, store.Options{})
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st2.Close() })
			w := newWorld(t, st1)
			c := &clock{t: base}
			_, sc1 := scheduler(t, st1, c)
			_, sc2 := scheduler(t, st2, c)
			var flows []*store.Flow
			for i := range 5 {
				flows = append(flows, w.scheduled(t, fmt.Sprintf("f%d", i), `{cron: "* * * * *"}, {cron: "*/2 * * * *"}`, base))
			}
			for minute := 1; minute <= 4; minute++ {
				c.Set(time.Date(2026, time.June, 1, 10, 7+minute, 1, 0, time.UTC))
				var wg sync.WaitGroup
				results := make([][]runs.Firing, 2)
				for i, sc := range []*runs.Scheduler{sc1, sc2} {
					wg.Go(func() { results[i] = tick(t, sc) })
				}
				wg.Wait()
				want := 5 // every minute
				if minute%2 == 1 {
					want = 10 // 10:08, 10:10: both schedules, one run each flow
				}
				if got := len(results[0]) + len(results[1]); got != want {
					t.Fatalf("minute %d: %d firings (%d + %d), want %d", minute, got, len(results[0]), len(results[1]), want)
				}
				// Finish the runs so the next minute starts new ones.
				if _, err := st1.WriteDB().Exec(`UPDATE runs SET status = 'completed'`); err != nil {
					t.Fatal(err)
				}
			}
			// When both schedules of a flow are due at once, the first
			// starts the run and the second finds it queued.
			total, started, skipped := 0, 0, 0
			for _, f := range flows {
				total += countRuns(t, st1, f)
				for _, fr := range fires(t, st1, f) {
					switch {
					case fr.Outcome == store.FireStarted:
						started++
					case fr.Outcome == store.FireSkipped && fr.ScheduleIndex == 1:
						skipped++
					default:
						t.Errorf("flow %s: firing %+v", f.Name, fr)
					}
				}
			}
			if total != 20 || started != 20 || skipped != 10 {
				t.Errorf("%d runs, %d started, %d skipped firings; want 20, 20, 10", total, started, skipped)
			}
			if n := countJobs(t, st1, "run_flow"); n != 20 {
				t.Errorf("%d run jobs, want 20", n)
			}
		})
	}
}

// TestScheduleTimeZones: a schedule fires at its wall-clock time in its
// zone on both sides of a change to daylight saving time.
func TestScheduleTimeZones(t *testing.T) {
	st := storetest.Open(t, store.SQLite, store.Options{})
	w := newWorld(t, st)
	c := &clock{}
	_, sc := scheduler(t, st, c)
	// America/Chicago moves from CST (UTC-6) to CDT (UTC-5) at 02:00 on
	// 8 March 2026.
	start := time.Date(2026, time.March, 7, 12, 0, 0, 0, time.UTC)
	f := w.scheduled(t, "nine", `{cron: "0 9 * * *", timezone: "America/Chicago"}`, start)
	want := []time.Time{
		time.Date(2026, time.March, 7, 15, 0, 0, 0, time.UTC), // 09:00 CST
		time.Date(2026, time.March, 8, 14, 0, 0, 0, time.UTC), // 09:00 CDT
		time.Date(2026, time.March, 9, 14, 0, 0, 0, time.UTC),
	}
	for i, at := range want {
		c.Set(at.Add(-time.Second))
		if fr := tick(t, sc); len(fr) != 0 {
			t.Fatalf("day %d: fired a second early: %+v", i, fr)
		}
		c.Set(at.Add(10 * time.Second))
		fr := tick(t, sc)
		if len(fr) != 1 || !fr[0].FireAt.Equal(at) || fr[0].Outcome != store.FireStarted {
			t.Fatalf("day %d: firings %+v, want one at %s", i, fr, at)
		}
		finishRun(t, st, fr[0].RunID)
	}
	if n := countRuns(t, st, f); n != 3 {
		t.Errorf("%d runs, want 3", n)
	}

	// Autumn: 01:30 comes twice on 1 November 2026 (CDT, then CST); the
	// schedule fires once.
	autumn := w.scheduled(t, "night", `{cron: "30 1 * * *", timezone: "America/Chicago"}`, time.Date(2026, time.November, 1, 5, 0, 0, 0, time.UTC))
	var got []time.Time
	for at := time.Date(2026, time.November, 1, 6, 0, 0, 0, time.UTC); at.Before(time.Date(2026, time.November, 1, 9, 0, 0, 0, time.UTC)); at = at.Add(15 * time.Minute) {
		c.Set(at)
		for _, fr := range tick(t, sc) {
			if fr.FlowID == autumn.ID {
				got = append(got, fr.FireAt)
				finishRun(t, st, fr.RunID)
			}
		}
	}
	if len(got) != 1 || !got[0].Equal(time.Date(2026, time.November, 1, 6, 30, 0, 0, time.UTC)) {
		t.Errorf("autumn firings %v, want one at 06:30 UTC (01:30 CDT)", got)
	}
}

// TestDueTimesDST: due times across both changes of America/Chicago in
// 2026 (8 March 02:00 → 03:00, 1 November 02:00 → 01:00).
func TestDueTimesDST(t *testing.T) {
	utc := func(mo time.Month, d, h, m int) time.Time { return time.Date(2026, mo, d, h, m, 0, 0, time.UTC) }
	for _, tc := range []struct {
		name, cron string
		from       time.Time
		want       []time.Time
	}{
		{"a skipped time fires when the clocks jump", "30 2 * * *", utc(time.March, 7, 12, 0),
			[]time.Time{utc(time.March, 8, 8, 0), utc(time.March, 9, 7, 30)}},
		{"a repeated time fires once", "30 1 * * *", utc(time.October, 31, 12, 0),
			[]time.Time{utc(time.November, 1, 6, 30), utc(time.November, 2, 7, 30)}},
		{"every 30 minutes follows elapsed time in spring", "*/30 * * * *", utc(time.March, 8, 7, 15),
			[]time.Time{utc(time.March, 8, 7, 30), utc(time.March, 8, 8, 0), utc(time.March, 8, 8, 30)}},
		{"every 30 minutes goes on through the repeated hour", "*/30 * * * *", utc(time.November, 1, 5, 45),
			[]time.Time{utc(time.November, 1, 6, 0), utc(time.November, 1, 6, 30), utc(time.November, 1, 7, 0), utc(time.November, 1, 7, 30), utc(time.November, 1, 8, 0)}},
		{"a fixed time outside the change", "0 9 * * 1-5", utc(time.March, 6, 16, 0),
			[]time.Time{utc(time.March, 9, 14, 0), utc(time.March, 10, 14, 0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := flow.Load([]byte(fmt.Sprintf(scheduledDoc, "x", fmt.Sprintf(`{cron: "%s", timezone: "America/Chicago"}`, tc.cron))))
			if err != nil {
				t.Fatal(err)
			}
			at := tc.from
			for i, want := range tc.want {
				at = runs.NextDue(c.Schedules[0], at)
				if !at.Equal(want) {
					t.Fatalf("due time %d after %s: %s, want %s", i, tc.from, at, want)
				}
			}
		})
	}
}

// TestScheduleSaved: saving a flow counts its schedules from the save;
// the view shows the next due time.
func TestScheduleView(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := newWorld(t, st)
		c := &clock{t: base}
		_, sc := scheduler(t, st, c)
		f := w.scheduled(t, "q", `{cron: "*/15 * * * *", timezone: "America/Chicago"}, {cron: "0 6 * * 1-5"}`, base)
		v, err := sc.Schedule(ctx, f.ProjectID, f.PipeID, f.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		if !v.Enabled || len(v.Schedules) != 2 || len(v.Fires) != 0 {
			t.Fatalf("view %+v", v)
		}
		if s := v.Schedules[0]; s.Cron != "*/15 * * * *" || s.TimeZone != "America/Chicago" || !s.Next.Equal(time.Date(2026, time.June, 1, 10, 15, 0, 0, time.UTC)) || s.Due {
			t.Errorf("schedule 0 %+v", s)
		}
		// 1 June 2026 is a Monday: 06:00 UTC is past, the next is Tuesday.
		if s := v.Schedules[1]; s.TimeZone != "UTC" || !s.Next.Equal(time.Date(2026, time.June, 2, 6, 0, 0, 0, time.UTC)) {
			t.Errorf("schedule 1 %+v", s)
		}
		c.Set(time.Date(2026, time.June, 1, 10, 16, 0, 0, time.UTC))
		tick(t, sc)
		v, err = sc.Schedule(ctx, f.ProjectID, f.PipeID, f.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Fires) != 1 || v.Fires[0].ScheduleIndex != 0 || !v.Schedules[0].Last.Equal(time.Date(2026, time.June, 1, 10, 15, 0, 0, time.UTC)) ||
			!v.Schedules[0].Next.Equal(time.Date(2026, time.June, 1, 10, 30, 0, 0, time.UTC)) {
			t.Errorf("after a tick: %+v %+v", v.Fires, v.Schedules[0])
		}
		// Another project's view of the flow is not found.
		if _, err := sc.Schedule(ctx, "other", f.PipeID, f.ID, 10); err == nil {
			t.Error("the flow answered under another project")
		}
	})
}
