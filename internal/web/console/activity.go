package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

// activityPageSize is how many events one page of the activity log shows.
const activityPageSize = 50

// activityData is what activity.html shows.
type activityData struct {
	Events        []activityEvent
	Actions       []string
	Action, Actor string
	Since, Until  string
	NextPage      string
	FirstPage     string
	Filtered      bool
}

// activityEvent is one audit event as the page shows it.
type activityEvent struct {
	*store.AuditEvent
	Detail string // "" when the event has none
}

// activityActions are the actions a project's log holds, for the filter.
var activityActions = []string{
	audit.ActionProjectCreate, audit.ActionProjectUpdate, audit.ActionProjectTransfer, audit.ActionProjectDelete,
	audit.ActionGrantAdd, audit.ActionGrantRole, audit.ActionGrantRevoke,
	audit.ActionConnectionCreate, audit.ActionConnectionUpdate, audit.ActionConnectionDelete, audit.ActionConnectionConsent,
	audit.ActionPipeCreate, audit.ActionPipeUpdate, audit.ActionPipeDelete, audit.ActionPipeEnable, audit.ActionPipeDisable,
	audit.ActionFlowCreate, audit.ActionFlowSave, audit.ActionFlowRestore, audit.ActionFlowEnable, audit.ActionFlowDisable, audit.ActionFlowDelete,
	audit.ActionRunStart, audit.ActionRunDelete, audit.ActionRunCancel, audit.ActionRunReprocess,
	actionConsoleLogLink, actionConsoleLogDelete,
}

// activityTime reads a since/until filter: a date, a datetime-local value
// (both UTC) or an RFC 3339 time.
func activityTime(v string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func (c *Console) activityPage(w http.ResponseWriter, r *http.Request) {
	g, q := access.GrantFrom(r.Context()), r.URL.Query()
	d := activityData{Actions: activityActions, Action: q.Get("action"), Actor: strings.TrimSpace(q.Get("actor")),
		Since: q.Get("since"), Until: q.Get("until")}
	d.Filtered = d.Action != "" || d.Actor != "" || d.Since != "" || d.Until != ""
	f := store.AuditFilter{ProjectID: g.Project.ID, Action: d.Action, Limit: activityPageSize}
	fields := map[string]string{}
	status := http.StatusOK
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := q.Get(name); v != "" {
			t, ok := activityTime(v)
			if !ok {
				fields[name] = "This must be a date such as 2026-11-29 or a time such as 2026-11-29T09:00 (UTC)"
				status = http.StatusBadRequest
			}
			*dst = t
		}
	}
	if before := q.Get("before"); before != "" {
		n, err := strconv.ParseInt(before, 10, 64)
		if err != nil || n < 1 {
			c.Fail(w, r, httpx.BadRequest("invalid_query", "before must be the cursor of a next-page link"))
			return
		}
		f.BeforeSeq = n
	}
	empty := false
	if d.Actor != "" {
		// The actor is an email or a user ID; an email nobody has matches
		// no event rather than being an error.
		f.ActorID = d.Actor
		if strings.Contains(d.Actor, "@") {
			u, err := c.Services.Store.Reader().UserByEmail(r.Context(), strings.ToLower(d.Actor))
			switch {
			case errors.Is(err, store.ErrNotFound):
				empty = true
			case err != nil:
				c.Fail(w, r, err)
				return
			default:
				f.ActorID = u.ID
			}
		}
	}
	if status == http.StatusOK && !empty {
		events, err := c.Services.Store.Reader().ListAuditEvents(r.Context(), f)
		if err != nil {
			c.Fail(w, r, err)
			return
		}
		for _, e := range events {
			ev := activityEvent{AuditEvent: e}
			if e.Detail != "" && e.Detail != "{}" {
				ev.Detail = e.Detail
			}
			d.Events = append(d.Events, ev)
		}
		if len(events) == activityPageSize {
			next := url.Values{}
			for k, vs := range q {
				next[k] = vs
			}
			next.Set("before", strconv.FormatInt(events[len(events)-1].Seq, 10))
			d.NextPage = "/projects/" + g.Project.ID + "/activity?" + next.Encode()
		}
	}
	if q.Get("before") != "" {
		first := url.Values{}
		for k, vs := range q {
			first[k] = vs
		}
		first.Del("before")
		d.FirstPage = "/projects/" + g.Project.ID + "/activity?" + first.Encode()
	}
	c.render(w, r, status, "activity.html", page{Title: "Activity · " + g.Project.Name, Fields: fields, Data: d})
}
