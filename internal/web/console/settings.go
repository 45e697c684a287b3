package console

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/project"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

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
