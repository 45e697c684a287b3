package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

type runRecords struct {
	Read      int64 `json:"read"`
	Succeeded int64 `json:"succeeded"`
	Failed    int64 `json:"failed"`
	Skipped   int64 `json:"skipped"`
}

// runView is a run as the API shows it (DESIGN §6).
type runView struct {
	ID          string     `json:"id"`
	FlowID      string     `json:"flow_id"`
	PipeID      string     `json:"pipe_id"`
	Status      string     `json:"status"`
	Trigger     string     `json:"trigger"`
	TriggeredBy string     `json:"triggered_by,omitempty"`
	ParentRunID string     `json:"parent_run_id,omitempty"`
	Error       string     `json:"error,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	StartedAt   *time.Time `json:"started_at"`
	FinishedAt  *time.Time `json:"finished_at"`
	DurationMS  *int64     `json:"duration_ms"`
	Records     runRecords `json:"records"`
}

func viewRun(r *store.Run) runView {
	v := runView{ID: r.ID, FlowID: r.FlowID, PipeID: r.PipeID, Status: r.Status, Trigger: r.Trigger, TriggeredBy: r.TriggeredBy,
		ParentRunID: r.ParentRunID, Error: r.Error, CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
		Records: runRecords{Read: r.Read, Succeeded: r.Succeeded, Failed: r.Failed, Skipped: r.Skipped}}
	if r.StartedAt != nil && r.FinishedAt != nil {
		d := max(r.FinishedAt.Sub(*r.StartedAt).Milliseconds(), 0)
		v.DurationMS = &d
	}
	return v
}

type runFailureView struct {
	EntityID      string `json:"entity_id"`
	Stage         string `json:"stage"`
	Error         string `json:"error"`
	Attempts      int    `json:"attempts"`
	ReprocessedBy string `json:"reprocessed_by,omitempty"`
}

func (a *API) startRun(w http.ResponseWriter, r *http.Request) {
	pipeID, id := flowPath(r)
	run, err := a.Runs.StartManual(r.Context(), principal(r), grant(r), pipeID, id, client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusAccepted, viewRun(run))
}

var (
	runStatuses = []string{store.RunQueued, store.RunRunning, store.RunCompleted, store.RunPartiallyFailed, store.RunFailed, store.RunCancelled}
	runTriggers = []string{store.TriggerManual, store.TriggerSchedule, store.TriggerDynamic, store.TriggerReprocess}
)

// listRuns answers a page of the project's runs, newest first, filtered
// by flow, status, trigger and a time range (since, until: RFC 3339, on
// the time the run was created), paged by before (a run ID) and limit.
func (a *API) listRuns(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pid := grant(r).Project.ID
	f := store.RunFilter{ProjectID: pid, FlowID: q.Get("flow"), Status: q.Get("status"), Trigger: q.Get("trigger"), Before: q.Get("before")}
	if f.Status != "" && !slices.Contains(runStatuses, f.Status) {
		httpx.WriteError(w, r, badQuery("status", "must be one of queued, running, completed, partially_failed, failed, cancelled"))
		return
	}
	if f.Trigger != "" && !slices.Contains(runTriggers, f.Trigger) {
		httpx.WriteError(w, r, badQuery("trigger", "must be one of manual, schedule, dynamic, reprocess"))
		return
	}
	var err error
	if f.Since, f.Until, err = timeRange(q); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	limit, err := pageLimit(q, 500)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	f.Limit = limit
	rs, err := a.Runs.List(r.Context(), f)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	views := make([]runView, 0, len(rs))
	for _, run := range rs {
		views = append(views, viewRun(run))
	}
	out := list("runs", views)
	if len(rs) == limit {
		out["next"] = nextPage("/api/v1/projects/"+pid+"/runs", q, "before", rs[len(rs)-1].ID)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (a *API) getRun(w http.ResponseWriter, r *http.Request) {
	run, err := a.Runs.Get(r.Context(), grant(r).Project.ID, r.PathValue("r"))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, viewRun(run))
}

// listRunFailures answers a page of a run's failed records in the order
// they failed, paged by after (an opaque cursor from next) and limit.
func (a *API) listRunFailures(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	after, limit, err := afterPage(q, 1000)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	pid, id := grant(r).Project.ID, r.PathValue("r")
	fs, err := a.Runs.Failures(r.Context(), pid, id, after, limit)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	views := make([]runFailureView, 0, len(fs))
	for _, f := range fs {
		views = append(views, runFailureView{EntityID: f.EntityID, Stage: f.Stage, Error: f.Error, Attempts: f.Attempts, ReprocessedBy: f.ReprocessedBy})
	}
	out := list("failures", views)
	if len(fs) == limit {
		out["next"] = nextPage("/api/v1/projects/"+pid+"/runs/"+id+"/failures", q, "after", strconv.FormatInt(fs[len(fs)-1].ID, 10))
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (a *API) deleteRun(w http.ResponseWriter, r *http.Request) {
	if err := a.Runs.Delete(r.Context(), principal(r), grant(r), r.PathValue("r"), client(r)); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type runLogView struct {
	Seq      int64           `json:"seq"`
	EntityID string          `json:"entity_id,omitempty"`
	Step     string          `json:"step"`
	Value    json.RawMessage `json:"value"`
}

// listRunLogs answers a page of a run's detail log: the values its log
// steps kept, the one place a flow deliberately keeps data (deleted with
// the run), paged by after (the seq of the last entry) and limit.
func (a *API) listRunLogs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	after, limit, err := afterPage(q, 1000)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	pid, id := grant(r).Project.ID, r.PathValue("r")
	ls, err := a.Runs.Logs(r.Context(), pid, id, after, limit)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	views := make([]runLogView, 0, len(ls))
	for _, l := range ls {
		v := json.RawMessage(l.Value)
		if !json.Valid(v) {
			b, _ := json.Marshal(l.Value)
			v = b
		}
		views = append(views, runLogView{Seq: l.Seq, EntityID: l.EntityID, Step: l.Step, Value: v})
	}
	out := list("logs", views)
	if len(ls) == limit {
		out["next"] = nextPage("/api/v1/projects/"+pid+"/runs/"+id+"/logs", q, "after", strconv.FormatInt(ls[len(ls)-1].Seq, 10))
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// deleteRunsBefore deletes the project's finished runs created before
// ?before= (RFC 3339, or a date YYYY-MM-DD meaning its midnight UTC), with
// their failures and console logs; queued and running runs stay. It
// answers how many went.
func (a *API) deleteRunsBefore(w http.ResponseWriter, r *http.Request) {
	before, err := parseBefore(r.URL.Query().Get("before"), a.Store.Now())
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	n, err := a.Runs.DeleteBefore(r.Context(), principal(r), grant(r), before, client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]int64{"deleted": n})
}

// parseBefore reads the date of a deletion: given, RFC 3339 or
// YYYY-MM-DD, and not after now.
func parseBefore(v string, now time.Time) (time.Time, error) {
	const format = "must be an RFC 3339 time such as 2026-11-29T09:00:00Z or a date such as 2026-11-29 (midnight UTC)"
	bad := func(msg string) error {
		return httpx.Unprocessable("invalid_query", "before "+msg, httpx.Detail{Field: "before", Message: msg})
	}
	if v == "" {
		return time.Time{}, bad("is required: the runs created before it are deleted; it " + format)
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		if t, err = time.Parse(time.DateOnly, v); err != nil {
			return time.Time{}, bad(format)
		}
	}
	if t.After(now) {
		return time.Time{}, bad("must not be in the future: runs not yet created cannot be deleted")
	}
	return t.UTC(), nil
}
