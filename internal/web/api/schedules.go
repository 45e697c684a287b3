package api

import (
	"net/http"
	"time"

	"github.com/sluice-dev/sluice/internal/web/httpx"
)

type scheduleView struct {
	Index    int        `json:"index"`
	Cron     string     `json:"cron"`
	TimeZone string     `json:"timezone"`
	Next     *time.Time `json:"next_fire_at"`
	Due      bool       `json:"due,omitempty"`
	Last     *time.Time `json:"last_fire_at"`
}

type scheduleFireView struct {
	ScheduleIndex int       `json:"schedule_index"`
	Schedule      string    `json:"schedule"`
	FireAt        time.Time `json:"fire_at"`
	Outcome       string    `json:"outcome"`
	RunID         string    `json:"run_id,omitempty"`
	Reason        string    `json:"reason,omitempty"`
	MissedCount   int       `json:"missed_count,omitempty"`
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// getFlowSchedule answers a flow's schedules with their next due times
// and its recent firings (newest first, at most limit), so a user sees
// what ran, what was skipped because a run was still going, and what was
// missed while no scheduler ran.
func (a *API) getFlowSchedule(w http.ResponseWriter, r *http.Request) {
	limit, err := pageLimit(r.URL.Query(), 500)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	pipeID, id := flowPath(r)
	fs, err := a.Scheduler.Schedule(r.Context(), grant(r).Project.ID, pipeID, id, limit)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	scheds := make([]scheduleView, 0, len(fs.Schedules))
	for _, s := range fs.Schedules {
		scheds = append(scheds, scheduleView{Index: s.Index, Cron: s.Cron, TimeZone: s.TimeZone, Next: timeOrNil(s.Next), Due: s.Due, Last: timeOrNil(s.Last)})
	}
	fires := make([]scheduleFireView, 0, len(fs.Fires))
	for _, f := range fs.Fires {
		fires = append(fires, scheduleFireView{ScheduleIndex: f.ScheduleIndex, Schedule: f.Schedule, FireAt: f.FireAt, Outcome: f.Outcome,
			RunID: f.RunID, Reason: f.Reason, MissedCount: f.MissedCount})
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"active": fs.Enabled, "schedules": scheds, "fires": fires})
}
