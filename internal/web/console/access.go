package console

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/project"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

// accessRoutes are the pages of members, groups, project settings and the
// activity log. Each names the action of its API twin (api.go), so a page
// and the API never disagree about who may do what.
func (c *Console) accessRoutes() []httpx.Route {
	u := httpx.User
	return []httpx.Route{
		{Method: "GET", Path: "/projects/{p}/members", Access: u, Action: access.ViewProject, Handler: c.membersPage},
		{Method: "POST", Path: "/projects/{p}/members", Access: u, Action: access.ManageAccess, Handler: c.membersPost, Form: true},
		{Method: "POST", Path: "/projects/{p}/members/{m}/role", Access: u, Action: access.ManageAccess, Handler: c.memberRolePost, Form: true},
		{Method: "POST", Path: "/projects/{p}/members/{m}/revoke", Access: u, Action: access.ManageAccess, Handler: c.memberRevokePost, Form: true},
		{Method: "POST", Path: "/projects/{p}/transfer", Access: u, Action: access.OwnProject, Handler: c.transferPost, Form: true},
		{Method: "POST", Path: "/projects/{p}/delete", Access: u, Action: access.OwnProject, Handler: c.projectDeletePost, Form: true},
		{Method: "GET", Path: "/projects/{p}/settings", Access: u, Action: access.ConfigureProject, Handler: c.settingsPage},
		{Method: "POST", Path: "/projects/{p}/settings", Access: u, Action: access.ConfigureProject, Handler: c.settingsPost, Form: true},
		{Method: "GET", Path: "/projects/{p}/activity", Access: u, Action: access.ViewAudit, Handler: c.activityPage},
	}
}

// memberRow is one member as the members page shows it.
type memberRow struct {
	ID, Kind, UserID, Email, Name, Role string
	Owner                               bool
}

// membersData is what members.html shows.
type membersData struct {
	Members []memberRow
	// Users are the members a project may be transferred to (users with
	// a grant of their own).
	Users []memberRow
	Roles []string
}

func (c *Console) membersPage(w http.ResponseWriter, r *http.Request) {
	p := page{}
	switch r.URL.Query().Get("notice") {
	case "granted":
		p.Notice = "Access granted."
	case "role":
		p.Notice = "Role switched."
	case "revoked":
		p.Notice = "Access revoked."
	case "transferred":
		p.Notice = "Ownership transferred: you are now an administrator of this project."
	}
	c.renderMembers(w, r, http.StatusOK, p)
}

func (c *Console) renderMembers(w http.ResponseWriter, r *http.Request, status int, p page) {
	g := access.GrantFrom(r.Context())
	owner, err := c.Services.Store.Reader().UserByID(r.Context(), g.Project.OwnerID)
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	grants, err := c.Services.Projects.Members(r.Context(), g)
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	d := membersData{Roles: []string{store.RoleStandard, store.RoleAdmin},
		Members: []memberRow{{ID: project.OwnerMemberID, Kind: "user", UserID: owner.ID, Email: owner.Email, Name: owner.Name, Role: "owner", Owner: true}}}
	for _, gr := range grants {
		m := memberRow{ID: gr.ID, Kind: "user", UserID: gr.UserID, Email: gr.Email, Name: gr.Name, Role: gr.Role}
		if gr.GroupID != "" {
			m.Kind = "group"
		} else {
			d.Users = append(d.Users, m)
		}
		d.Members = append(d.Members, m)
	}
	p.Title = "Members · " + g.Project.Name
	p.Data = d
	c.render(w, r, status, "members.html", p)
}

// membersFail shows the members page again with a service error next to
// the field it concerns (fieldFor renames the API's fields to the form's).
func (c *Console) membersFail(w http.ResponseWriter, r *http.Request, err error, form string, values map[string]string) {
	if errors.Is(err, store.ErrNotFound) {
		// A member that is gone (or a project the caller lost): the same
		// page as anywhere else.
		c.Fail(w, r, err)
		return
	}
	// A refusal of the caller (a role lowered meanwhile) is the error
	// page; a wrong confirmation password belongs next to its field.
	if e := httpx.Describe(r, err); e.Status == http.StatusForbidden && e.Code != "wrong_password" {
		c.Fail(w, r, err)
		return
	}
	status, msg, fields := formProblems(r, err)
	out := map[string]string{}
	for f, m := range fields {
		out[form+"."+f] = m
		if strings.HasPrefix(form, "member-") {
			// A member's row has one place for its problems.
			msg = strings.TrimPrefix(msg+"; "+m, "; ")
		}
	}
	if msg != "" {
		// A problem without a field (already a member, wrong password)
		// still belongs to the form that caused it.
		out[form] = msg
	}
	c.renderMembers(w, r, status, page{Fields: out, Values: values})
}

func (c *Console) membersPost(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	f := r.PostForm
	who, group, role := strings.TrimSpace(f.Get("user")), strings.TrimSpace(f.Get("group_id")), f.Get("role")
	values := map[string]string{"grant.user": who, "grant.group_id": group, "grant.role": role}
	ng := project.NewGrant{GroupID: group, Role: role}
	switch {
	case who != "" && group != "":
		c.membersFail(w, r, &project.ValidationError{Problems: []project.Problem{{Field: "user", Message: "cannot be given with a group: grant one of them at a time"}}}, "grant", values)
		return
	case strings.Contains(who, "@"):
		u, err := c.Services.Store.Reader().UserByEmail(r.Context(), strings.ToLower(who))
		if errors.Is(err, store.ErrNotFound) {
			c.membersFail(w, r, &project.ValidationError{Problems: []project.Problem{{Field: "user", Message: "is not the email of a Sluice user: ask an instance administrator to create the account first"}}}, "grant", values)
			return
		}
		if err != nil {
			c.Fail(w, r, err)
			return
		}
		ng.UserID = u.ID
	default:
		ng.UserID = who
	}
	if _, err := c.Services.Projects.Grant(r.Context(), principalOf(r), access.GrantFrom(r.Context()), ng, clientOf(r)); err != nil {
		c.membersFail(w, r, renameProblem(err, "user_id", "user"), "grant", values)
		return
	}
	http.Redirect(w, r, "/projects/"+r.PathValue("p")+"/members?notice=granted", http.StatusSeeOther)
}

// renameProblem renames a validation problem's field from the API's name
// to the form's.
func renameProblem(err error, from, to string) error {
	var v *project.ValidationError
	if !errors.As(err, &v) {
		return err
	}
	ps := slices.Clone(v.Problems)
	for i := range ps {
		if ps[i].Field == from {
			ps[i].Field = to
		}
	}
	return &project.ValidationError{Problems: ps}
}

func (c *Console) memberRolePost(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	m := r.PathValue("m")
	if _, err := c.Services.Projects.SetRole(r.Context(), principalOf(r), access.GrantFrom(r.Context()), m, r.PostForm.Get("role"), clientOf(r)); err != nil {
		c.membersFail(w, r, err, "member-"+m, nil)
		return
	}
	http.Redirect(w, r, "/projects/"+r.PathValue("p")+"/members?notice=role", http.StatusSeeOther)
}

func (c *Console) memberRevokePost(w http.ResponseWriter, r *http.Request) {
	m := r.PathValue("m")
	if err := c.Services.Projects.Revoke(r.Context(), principalOf(r), access.GrantFrom(r.Context()), m, clientOf(r)); err != nil {
		c.membersFail(w, r, err, "member-"+m, nil)
		return
	}
	http.Redirect(w, r, "/projects/"+r.PathValue("p")+"/members?notice=revoked", http.StatusSeeOther)
}

func (c *Console) transferPost(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	p, g := principalOf(r), access.GrantFrom(r.Context())
	to := r.PostForm.Get("user_id")
	// Handing the project over is as final as deleting it: the owner
	// confirms with their password, checked before anything changes.
	var err error
	if pw := r.PostForm.Get("password"); pw == "" {
		err = &project.ValidationError{Problems: []project.Problem{{Field: "password", Message: "is required: type your password to confirm the transfer"}}}
	} else {
		err = c.Accounts.ConfirmPassword(r.Context(), p, pw, audit.ActionProjectTransfer, g.Project.ID, clientOf(r))
	}
	if err == nil {
		_, err = c.Services.Projects.Transfer(r.Context(), p, g, to, clientOf(r))
	}
	if err != nil {
		c.membersFail(w, r, err, "transfer", map[string]string{"transfer.user_id": to})
		return
	}
	http.Redirect(w, r, "/projects/"+g.Project.ID+"/members?notice=transferred", http.StatusSeeOther)
}

func (c *Console) projectDeletePost(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	g := access.GrantFrom(r.Context())
	if err := c.Services.Projects.Delete(r.Context(), principalOf(r), g, r.PostForm.Get("password"), clientOf(r)); err != nil {
		c.membersFail(w, r, err, "delete", nil)
		return
	}
	http.Redirect(w, r, "/projects?notice=deleted", http.StatusSeeOther)
}

// settingsData is what settings.html shows.
type settingsData struct {
	Plan      *store.Plan
	Plans     []*store.Plan // for instance administrators only
	Settings  project.Settings
	Name      string
	Alerts    []string
	Captures  []string
	Checked   map[string]bool
	CanChange bool
}

func (c *Console) settingsPage(w http.ResponseWriter, r *http.Request) {
	g := access.GrantFrom(r.Context())
	v, err := c.Services.Projects.Get(r.Context(), g)
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	notice := ""
	if r.URL.Query().Get("notice") == "saved" {
		notice = "Settings saved."
	}
	c.renderSettings(w, r, http.StatusOK, v, page{Notice: notice, Values: settingsValues(v)})
}

// settingsValues are the form's values for a project's view.
func settingsValues(v *project.View) map[string]string {
	s := v.Settings
	vals := map[string]string{
		"name":                                v.Project.Name,
		"plan_id":                             v.Project.PlanID,
		"time_zone":                           s.TimeZone,
		"retention_run_log_days":              strconv.Itoa(s.Retention.RunLogDays),
		"retention_console_log_days":          strconv.Itoa(s.Retention.ConsoleLogDays),
		"dynamic_ip_allowlist":                strings.Join(s.DynamicIPAllowlist, "\n"),
		"egress_allowlist":                    strings.Join(s.EgressAllowlist, "\n"),
		"alerts_emails":                       strings.Join(s.Alerts.Emails, "\n"),
		"alerts_webhook_url":                  s.Alerts.WebhookURL,
		"console_log_defaults_auto_off_hours": strconv.Itoa(s.ConsoleLogDefaults.AutoOffHours),
	}
	if s.Alerts.Enabled {
		vals["alerts_enabled"] = "on"
	}
	if s.ConsoleLogDefaults.Enabled {
		vals["console_log_defaults_enabled"] = "on"
	}
	for _, o := range s.Alerts.On {
		vals["alerts_on."+o] = "on"
	}
	for _, k := range s.ConsoleLogDefaults.Capture {
		vals["console_log_defaults_capture."+k] = "on"
	}
	return vals
}

func (c *Console) renderSettings(w http.ResponseWriter, r *http.Request, status int, v *project.View, p page) {
	d := settingsData{Plan: v.Plan, Settings: v.Settings, Name: v.Project.Name, Alerts: []string{store.RunFailed, store.RunPartiallyFailed},
		Captures: project.CaptureKinds, CanChange: principalOf(r).User.Admin}
	if d.CanChange {
		plans, err := c.Services.Store.Reader().ListPlans(r.Context())
		if err != nil {
			c.Fail(w, r, err)
			return
		}
		d.Plans = plans
	}
	p.Title = "Settings · " + v.Project.Name
	p.Data = d
	c.render(w, r, status, "settings.html", p)
}

// lines splits a textarea into its non-empty lines (commas separate too).
func lines(s string) []string {
	out := []string{}
	for _, l := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' }) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// problemIndex strips a list item's index from a problem's path.
var problemIndex = regexp.MustCompile(`\[\d+\]$`)

// settingsField is the form field a PATCH problem's path concerns:
// "settings.retention.run_log_days" → "retention_run_log_days".
func settingsField(path string) string {
	path = problemIndex.ReplaceAllString(strings.TrimPrefix(path, "settings."), "")
	return strings.ReplaceAll(path, ".", "_")
}

func (c *Console) settingsPost(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	g, f := access.GrantFrom(r.Context()), r.PostForm
	vals := map[string]string{}
	for k := range f {
		vals[k] = strings.TrimSpace(f.Get(k))
	}
	delete(vals, "csrf_token")
	for _, o := range f["alerts_on"] {
		vals["alerts_on."+o] = "on"
	}
	for _, k := range f["console_log_defaults_capture"] {
		vals["console_log_defaults_capture."+k] = "on"
	}
	var ps []project.Problem
	number := func(field string) int {
		v := vals[field]
		if v == "" {
			return 0
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			ps = append(ps, project.Problem{Field: "settings." + field, Message: "must be a whole number of days or hours"})
		}
		return n
	}
	// Like PATCH, a part the post does not carry stays as it is; the
	// page's form carries every part. A part is present when its text
	// fields are (an unchecked box sends nothing).
	has := func(names ...string) bool {
		for _, n := range names {
			if _, ok := f[n]; ok {
				return true
			}
		}
		return false
	}
	list := func(name string) []string {
		if l := f[name]; l != nil {
			return l
		}
		return []string{}
	}
	var patch project.SettingsPatch
	if has("time_zone") {
		tz := vals["time_zone"]
		patch.TimeZone = &tz
	}
	if has("retention_run_log_days", "retention_console_log_days") {
		patch.Retention = &project.Retention{RunLogDays: number("retention_run_log_days"), ConsoleLogDays: number("retention_console_log_days")}
	}
	if has("dynamic_ip_allowlist") {
		ip := lines(vals["dynamic_ip_allowlist"])
		patch.DynamicIPAllowlist = &ip
	}
	if has("egress_allowlist") {
		egress := lines(vals["egress_allowlist"])
		patch.EgressAllowlist = &egress
	}
	if has("alerts_emails", "alerts_webhook_url") {
		patch.Alerts = &project.Alerts{Enabled: vals["alerts_enabled"] != "", Emails: lines(vals["alerts_emails"]),
			On: list("alerts_on"), WebhookURL: vals["alerts_webhook_url"]}
	}
	if has("console_log_defaults_auto_off_hours") {
		patch.ConsoleLogDefaults = &project.ConsoleLogDefaults{Enabled: vals["console_log_defaults_enabled"] != "",
			Capture: list("console_log_defaults_capture"), AutoOffHours: number("console_log_defaults_auto_off_hours")}
	}
	u := project.Update{Settings: &patch}
	if name, ok := vals["name"]; ok {
		u.Name = &name
	}
	// Only an instance administrator sees the plan's choice; a plan sent
	// by anyone else goes to the service, which refuses it as the API does.
	if plan, ok := vals["plan_id"]; ok && plan != "" {
		u.PlanID = &plan
	}
	var err error
	if len(ps) > 0 {
		err = &project.ValidationError{Problems: ps}
	} else {
		_, err = c.Services.Projects.Update(r.Context(), principalOf(r), g, u, clientOf(r))
	}
	if err == nil {
		http.Redirect(w, r, "/projects/"+g.Project.ID+"/settings?notice=saved", http.StatusSeeOther)
		return
	}
	e := httpx.Describe(r, err)
	if e.Status == http.StatusForbidden || e.Status == http.StatusNotFound || e.Status >= 500 {
		c.Fail(w, r, err)
		return
	}
	v, verr := c.Services.Projects.Get(r.Context(), g)
	if verr != nil {
		c.Fail(w, r, verr)
		return
	}
	fields, msg := map[string]string{}, ""
	for _, d := range e.Details {
		if d.Field == "" {
			msg = d.Message
			continue
		}
		name := settingsField(d.Field)
		if prev := fields[name]; prev != "" {
			fields[name] = prev + "; " + d.Message
			continue
		}
		fields[name] = sentence(name, d.Message)
	}
	if len(e.Details) == 0 {
		msg = e.Message
	}
	c.renderSettings(w, r, e.Status, v, page{Error: msg, Fields: fields, Values: vals})
}

// settingsLabels name the settings form's fields in problems shown
// beside them.
var settingsLabels = map[string]string{
	"name": "The name", "plan_id": "The plan", "time_zone": "The time zone",
	"retention_run_log_days": "Run-log retention", "retention_console_log_days": "Console-log retention",
	"dynamic_ip_allowlist": "The list", "egress_allowlist": "The list", "alerts_emails": "The list of addresses",
	"alerts_on": "The list", "alerts_webhook_url": "The webhook URL", "console_log_defaults_capture": "The list",
	"console_log_defaults_auto_off_hours": "The time",
}

// sentence makes a problem's message, which continues the field's name,
// read on its own next to the field. A message about one item of a list
// starts with the item and reads as it is.
func sentence(field, msg string) string {
	if strings.HasPrefix(msg, "\"") {
		return msg
	}
	label := settingsLabels[field]
	if label == "" {
		label = "This"
	}
	return label + " " + msg
}

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
