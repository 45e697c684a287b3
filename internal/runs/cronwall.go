package runs

import (
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/sluice-dev/sluice/internal/flow"
)

// wallParser reads the same cron dialect as package flow, to evaluate a
// schedule on the wall clock (in UTC, which has no daylight saving).
var wallParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// dueClock computes a schedule's due times the way cron users expect
// across daylight-saving changes (as Vixie cron does):
//
//   - a schedule at fixed hours ("30 2 * * *", "0 6,18 * * 1-5") follows
//     the wall clock: a time the clocks skip fires when they jump (02:30
//     on a spring-forward night fires at 03:00), and a time they repeat
//     fires once, the first time (01:30 on a fall-back night);
//   - a schedule whose hour repeats ("*/15 * * * *", "0 */2 * * *",
//     @hourly) follows elapsed time, so it neither stops for the repeated
//     hour nor bunches up after the skipped one.
type dueClock struct {
	sch flow.CompiledSchedule
	// wall is the schedule evaluated on wall-clock time; nil: elapsed time.
	wall cron.Schedule
}

func newDueClock(sch flow.CompiledSchedule) dueClock {
	d := dueClock{sch: sch}
	if !fixedHours(sch.Cron) || sch.Location == nil || sch.Location == time.UTC {
		return d
	}
	s, err := wallParser.Parse(strings.TrimSpace(sch.Cron))
	if err != nil {
		return d // compiled by package flow already: cannot happen
	}
	if spec, ok := s.(*cron.SpecSchedule); ok {
		spec.Location = time.UTC
		d.wall = spec
	}
	return d
}

// fixedHours says whether a cron expression fires at fixed hours: its
// hour field is a number, a list or a range, not "*" or a step.
func fixedHours(expr string) bool {
	e := strings.TrimSpace(expr)
	if strings.HasPrefix(e, "@") {
		return e != "@hourly"
	}
	f := strings.Fields(e)
	return len(f) == 5 && !strings.ContainsAny(f[1], "*/")
}

// Next is the first due time after t (zero: never).
func (d dueClock) Next(t time.Time) time.Time {
	if d.wall == nil {
		return d.sch.Next(t)
	}
	loc := d.sch.Location
	w := wallOf(t, loc)
	for range 8 {
		w = d.wall.Next(w)
		if w.IsZero() {
			return time.Time{}
		}
		if at, ok := instantOf(w, loc, t); ok {
			return at
		}
	}
	return time.Time{}
}

// wallOf reads the wall clock in loc at t as a UTC time.
func wallOf(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
}

// zoneShifts are the sizes of clock changes looked for around a wall time
// (30 minutes: Lord Howe Island).
var zoneShifts = []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour}

// instantOf is the first instant after t whose wall clock in loc reads w:
// the earlier of two when the clocks repeat w, and the moment the clocks
// jump past w when they skip it. ok is false when that instant is not
// after t (the first reading of a repeated time already passed).
func instantOf(w time.Time, loc *time.Location, t time.Time) (time.Time, bool) {
	x := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), loc)
	if wallOf(x, loc).Equal(w) {
		first := x
		for _, d := range zoneShifts {
			if y := x.Add(-d); wallOf(y, loc).Equal(w) {
				first = y
			}
		}
		// Only the first reading of a repeated time fires: once it has
		// passed, the later reading does not.
		return first, first.After(t)
	}
	// Skipped: the clocks jump over w within a few hours before x. Find
	// the jump: the first instant whose wall clock reads w or later.
	lo, hi := x.Add(-3*time.Hour), x.Add(3*time.Hour)
	if !wallOf(lo, loc).Before(w) {
		return time.Time{}, false
	}
	for hi.Sub(lo) > time.Second {
		mid := lo.Add(hi.Sub(lo) / 2)
		if wallOf(mid, loc).Before(w) {
			lo = mid
		} else {
			hi = mid
		}
	}
	at := hi.Truncate(time.Second)
	return at, at.After(t)
}

// NextDue is the first due time of sch after t, as the scheduler fires
// it (see dueClock).
func NextDue(sch flow.CompiledSchedule, t time.Time) time.Time { return newDueClock(sch).Next(t) }
