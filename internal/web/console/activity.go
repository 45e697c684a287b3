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
	"github.com/sluice-dev/sluice/internal/consumer"
	"github.com/sluice-dev/sluice/internal/runs"
	"github.com/sluice-dev/sluice/internal/secrets"
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
	// Path is the page's own path, for its form and links.
	Path string
	// Instance is the instance's log (every project's and the instance's
	// own events), with a project filter and the chain's verification.
	Instance bool
	Project  string
	// VerifyAction is where the chain's verification posts: its query
	// keeps the page's filters, so the result shows above the same page.
	VerifyAction string
	// Verified is the verification's result, once asked for.
	Verified *audit.Report
}

// activityEvent is one audit event as the page shows it.
type activityEvent struct {
	*store.AuditEvent
	Detail string // "" when the event has none
	// ProjectName names the event's project on the instance page ("" when
	// it is gone, or the event has none).
	ProjectName string
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

// instanceActivityActions are the actions of the instance's log: the
// instance's own, then every project's.
var instanceActivityActions = append([]string{
	audit.ActionSetup, audit.ActionLogin, audit.ActionLogout, audit.ActionPasswordChange,
	audit.ActionUserCreate, audit.ActionUserDisable, audit.ActionUserEnable,
	audit.ActionAPIKeyCreate, audit.ActionAPIKeyRevoke, audit.ActionSessionRevoke,
	audit.ActionTOTPEnable, audit.ActionTOTPDisable, audit.ActionRecoveryRenew, audit.ActionRecoveryCodeUse,
	audit.ActionGroupCreate, audit.ActionGroupRename, audit.ActionGroupDelete, audit.ActionGroupMemberAdd, audit.ActionGroupMemberDrop,
	secrets.AuditActionRotate, runs.ActionRetentionPurge,
}, append(append([]string(nil), activityActions...),
	consumer.ActionCreate, consumer.ActionUpdate, consumer.ActionDelete, consumer.ActionSecret,
	runs.ActionAlertSecretCreate, runs.ActionAlertSecretDelete, runs.ActionRunDeleteBefore)...)

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

// activityScope is what tells a project's log from the instance's.
type activityScope struct {
	// ProjectID scopes the log to one project; "" is the instance's log,
	// which the project query parameter filters.
	ProjectID string
	Path      string
	Actions   []string
}

func (c *Console) activityPage(w http.ResponseWriter, r *http.Request) {
	g := access.GrantFrom(r.Context())
	d, fields, status, err := c.activity(r, activityScope{ProjectID: g.Project.ID,
		Path: "/projects/" + g.Project.ID + "/activity", Actions: activityActions})
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	c.render(w, r, status, "activity.html", page{Title: "Activity · " + g.Project.Name, Fields: fields, Data: d})
}

// instanceActivityPage is the instance's activity log, the twin of GET
// /api/v1/audit.
func (c *Console) instanceActivityPage(w http.ResponseWriter, r *http.Request) {
	c.renderInstanceActivity(w, r, nil)
}

// verifyActivityPost checks the whole log's hash chain, as GET
// /api/v1/audit/verify does, and shows the result above the page the
// administrator was on (its filters ride in the form's query).
func (c *Console) verifyActivityPost(w http.ResponseWriter, r *http.Request) {
	rep, err := audit.Verify(r.Context(), c.Services.Store.Reader())
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	c.renderInstanceActivity(w, r, &rep)
}

func (c *Console) renderInstanceActivity(w http.ResponseWriter, r *http.Request, verified *audit.Report) {
	d, fields, status, err := c.activity(r, activityScope{Path: "/admin/activity", Actions: instanceActivityActions})
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	d.Verified = verified
	c.render(w, r, status, "activity.html", page{Title: "Instance activity", Fields: fields, Data: d})
}

// activity reads one page of a log, filtered by the request's query:
// action, actor (an email or a user ID), since, until, before (the next
// page's cursor) and, on the instance's log, project (a project ID). A
// bad since or until is said beside its field (status 400); a bad cursor
// is an error.
func (c *Console) activity(r *http.Request, s activityScope) (activityData, map[string]string, int, error) {
	q := r.URL.Query()
	d := activityData{Actions: s.Actions, Action: q.Get("action"), Actor: strings.TrimSpace(q.Get("actor")),
		Since: q.Get("since"), Until: q.Get("until"), Path: s.Path, Instance: s.ProjectID == ""}
	f := store.AuditFilter{ProjectID: s.ProjectID, Action: d.Action, Limit: activityPageSize}
	if d.Instance {
		d.Project = strings.TrimSpace(q.Get("project"))
		f.ProjectID = d.Project
	}
	d.Filtered = d.Action != "" || d.Actor != "" || d.Since != "" || d.Until != "" || d.Project != ""
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
			return d, nil, 0, httpx.BadRequest("invalid_query", "before must be the cursor of a next-page link")
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
				return d, nil, 0, err
			default:
				f.ActorID = u.ID
			}
		}
	}
	if d.Instance {
		d.VerifyAction = "/admin/activity/verify"
	}
	if d.Instance && status == http.StatusOK {
		keep := url.Values{}
		for _, k := range []string{"action", "actor", "since", "until", "project", "before"} {
			if v := q.Get(k); v != "" {
				keep.Set(k, v)
			}
		}
		if len(keep) > 0 {
			d.VerifyAction += "?" + keep.Encode()
		}
	}
	if status == http.StatusOK && !empty {
		events, err := c.Services.Store.Reader().ListAuditEvents(r.Context(), f)
		if err != nil {
			return d, nil, 0, err
		}
		names := map[string]string{}
		for _, e := range events {
			ev := activityEvent{AuditEvent: e}
			if e.Detail != "" && e.Detail != "{}" {
				ev.Detail = e.Detail
			}
			if d.Instance && e.ProjectID != "" {
				ev.ProjectName = c.projectName(r, names, e.ProjectID)
			}
			d.Events = append(d.Events, ev)
		}
		if len(events) == activityPageSize {
			next := url.Values{}
			for k, vs := range q {
				next[k] = vs
			}
			next.Set("before", strconv.FormatInt(events[len(events)-1].Seq, 10))
			d.NextPage = s.Path + "?" + next.Encode()
		}
	}
	if q.Get("before") != "" {
		first := url.Values{}
		for k, vs := range q {
			first[k] = vs
		}
		first.Del("before")
		d.FirstPage = s.Path + "?" + first.Encode()
	}
	return d, fields, status, nil
}

// projectName is a project's name, read once per page ("" once deleted:
// the log outlives the project).
func (c *Console) projectName(r *http.Request, names map[string]string, id string) string {
	if n, ok := names[id]; ok {
		return n
	}
	p, err := c.Services.Store.Reader().ProjectByID(r.Context(), id)
	if err == nil {
		names[id] = p.Name
	} else {
		names[id] = ""
	}
	return names[id]
}
