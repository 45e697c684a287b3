package flow

import (
	"fmt"
	"strings"
	"time"
	// The flow's time zones must resolve the same on every machine, with
	// or without a system zoneinfo.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
)

// cronParser reads standard 5-field cron (minute hour day-of-month month
// day-of-week) and the @hourly-style descriptors.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// cronReference is the fixed moment a schedule must fire after within
// robfig/cron's five-year search, so "0 0 30 2 *" (February 30) is
// refused. Fixed rather than now, so a check never depends on the clock.
var cronReference = time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)

// CompiledSchedule is a schedule ready to fire.
type CompiledSchedule struct {
	Cron     string
	Location *time.Location
	schedule cron.Schedule
}

// Next is the first time the schedule fires after t.
func (s CompiledSchedule) Next(t time.Time) time.Time {
	return s.schedule.Next(t)
}

// parseSchedule reads a cron expression in a time zone; the error says
// what is wrong and how to write it.
func parseSchedule(expr string, loc *time.Location) (sched cron.Schedule, err error) {
	const example = `write 5 fields, minute hour day-of-month month day-of-week, e.g. "*/15 * * * *" or "0 6 * * 1-5"`
	e := strings.TrimSpace(expr)
	switch {
	case strings.HasPrefix(e, "TZ=") || strings.HasPrefix(e, "CRON_TZ="):
		return nil, fmt.Errorf("give the time zone in timezone:, not in the cron expression")
	case strings.HasPrefix(e, "@every"):
		return nil, fmt.Errorf("@every is not cron: %s", example)
	}
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("invalid cron expression %q: %s", expr, example)
		}
	}()
	s, err := cronParser.Parse(e)
	if err != nil {
		return nil, fmt.Errorf("invalid cron expression %q: %v; %s", expr, err, example)
	}
	spec, ok := s.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("invalid cron expression %q: %s", expr, example)
	}
	// Fire in the schedule's zone whatever zone Next is asked in.
	spec.Location = loc
	if spec.Next(cronReference).IsZero() {
		return nil, fmt.Errorf("%q never fires (no such date): check the day of month against the month", expr)
	}
	return spec, nil
}

// loadZone resolves an IANA time zone name; "" is UTC.
func loadZone(name string) (*time.Location, error) {
	switch name {
	case "":
		return time.UTC, nil
	case "Local":
		return nil, fmt.Errorf("Local means whatever zone the server is in: name the zone, e.g. Europe/Berlin or America/Chicago")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		hint := ""
		if c := closestZone(name); c != "" {
			hint = fmt.Sprintf(" (did you mean %s?)", c)
		}
		return nil, fmt.Errorf("unknown time zone %s%s: use an IANA name such as Europe/Berlin, America/Chicago or UTC", quoteJSONish(name), hint)
	}
	return loc, nil
}

// closestZone catches a wrong letter case, the commonest slip: the zone
// database is case-sensitive.
func closestZone(name string) string {
	for _, z := range commonZones {
		if strings.EqualFold(z, name) {
			return z
		}
	}
	return ""
}

var commonZones = []string{
	"UTC", "Europe/London", "Europe/Berlin", "Europe/Paris", "Europe/Amsterdam", "Europe/Madrid", "Europe/Rome",
	"Europe/Zurich", "Europe/Vienna", "Europe/Warsaw", "Europe/Stockholm", "America/New_York", "America/Chicago",
	"America/Denver", "America/Los_Angeles", "America/Sao_Paulo", "America/Toronto", "Asia/Tokyo", "Asia/Shanghai",
	"Asia/Kolkata", "Asia/Singapore", "Asia/Dubai", "Australia/Sydney", "Pacific/Auckland", "Africa/Johannesburg",
}
