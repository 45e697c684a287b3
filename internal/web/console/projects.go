package console

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

// projectRoutes are the pages of projects, pipes and flows. Each project
// page names the same action as the API route it mirrors, so a page and
// the API never disagree about who may do what.
func (c *Console) projectRoutes() []httpx.Route {
	user := httpx.User
	const flow = "/projects/{p}/pipes/{pipe}/flows/{f}"
	return []httpx.Route{
		{Method: "GET", Path: "/projects", Access: user, Handler: c.projectsPage},
		{Method: "POST", Path: "/projects", Access: user, Handler: c.projectsPost, Form: true},
		{Method: "GET", Path: "/projects/{p}", Access: user, Action: access.ViewProject, Handler: c.dashboardPage},
		{Method: "GET", Path: "/projects/{p}/pipes", Access: user, Action: access.ViewProject, Handler: c.pipesPage},
		{Method: "POST", Path: "/projects/{p}/pipes", Access: user, Action: access.EditIntegrations, Handler: c.pipesPost, Form: true},
		{Method: "POST", Path: "/projects/{p}/pipes/{pipe}/flows", Access: user, Action: access.EditIntegrations, Handler: c.flowsPost, Form: true},
		// A pipe's console-log settings are project configuration.
		{Method: "POST", Path: "/projects/{p}/pipes/{pipe}/console-log", Access: user, Action: access.ConfigureProject, Handler: c.consoleLogSettingsPost, Form: true},
		{Method: "GET", Path: flow, Access: user, Action: access.ViewProject, Handler: c.flowPage},
		{Method: "POST", Path: flow, Access: user, Action: access.EditIntegrations, Handler: c.flowSave, Form: true},
		{Method: "POST", Path: flow + "/enable", Access: user, Action: access.EditIntegrations, Handler: c.flowEnable, Form: true},
		{Method: "POST", Path: flow + "/disable", Access: user, Action: access.EditIntegrations, Handler: c.flowDisable, Form: true},
		{Method: "POST", Path: flow + "/run", Access: user, Action: access.RunFlows, Handler: c.flowRun, Form: true},
		// A dry run writes nothing and keeps no run, but may make the
		// flow's calls: running a flow, as in the API.
		{Method: "POST", Path: flow + "/test", Access: user, Action: access.RunFlows, Handler: c.flowTest, Form: true},
		{Method: "GET", Path: flow + "/versions/{v}", Access: user, Action: access.ViewProject, Handler: c.versionPage},
		{Method: "POST", Path: flow + "/versions/{v}/restore", Access: user, Action: access.EditIntegrations, Handler: c.versionRestore, Form: true},
	}
}

// projectItem is one row of the projects list.
type projectItem struct {
	ID, Name, Role string
	Created        time.Time
}

func (c *Console) projectsPage(w http.ResponseWriter, r *http.Request) {
	c.renderProjects(w, r, http.StatusOK, page{})
}

func (c *Console) renderProjects(w http.ResponseWriter, r *http.Request, status int, p page) {
	ps, err := c.Services.Projects.List(r.Context(), principalOf(r))
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	items := make([]projectItem, 0, len(ps))
	for _, pr := range ps {
		items = append(items, projectItem{ID: pr.ID, Name: pr.Name, Role: access.RoleFromRank(pr.Rank).String(), Created: pr.CreatedAt})
	}
	p.Title = "Projects"
	p.Data = items
	c.render(w, r, status, "projects.html", p)
}

func (c *Console) projectsPost(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	name := r.PostForm.Get("name")
	v, err := c.Services.Projects.Create(r.Context(), principalOf(r), name, clientOf(r))
	if err != nil {
		status, msg, fields := formProblems(r, err)
		c.renderProjects(w, r, status, page{Error: msg, Fields: fields, Values: map[string]string{"name": name}})
		return
	}
	http.Redirect(w, r, "/projects/"+v.Project.ID+"?notice=created", http.StatusSeeOther)
}

// formProblems turns a service error into what a form shows: the status,
// a message for the top of the page (empty when every problem belongs to
// a field) and the problems by field, each a sentence of its own.
func formProblems(r *http.Request, err error) (int, string, map[string]string) {
	e := httpx.Describe(r, err)
	fields := map[string]string{}
	for _, d := range e.Details {
		if d.Field == "" {
			continue
		}
		name := strings.ReplaceAll(d.Field, "_", " ")
		fields[d.Field] = strings.ToUpper(name[:1]) + name[1:] + " " + d.Message
	}
	msg := e.Message
	if len(fields) > 0 && len(fields) == len(e.Details) {
		msg = ""
	}
	return e.Status, msg, fields
}

// dashboardDays is how many days the dashboard's chart covers.
const dashboardDays = 14

// dashboardFailures is how many recent failed runs the dashboard lists.
const dashboardFailures = 10

// dayCount is one day of the dashboard's chart.
type dayCount struct {
	Day                 time.Time
	Succeeded, Failed   int64
	Runs                int
	X, SucY, SucH       int
	FailX, FailY, FailH int
	Label               string
	ShowLabel           bool
}

// dashboard is what the project dashboard shows.
type dashboard struct {
	Days        []dayCount
	Succeeded   int64
	Failed      int64
	Runs        int
	RatePercent string // "" when no record was processed
	Failures    []runItem
	Flows       []flowItem
	ChartWidth  int
	ChartHeight int
	BaseY       int
}

// runItem is a run in a list, with its flow's name.
type runItem struct {
	Run  *store.Run
	Flow string
}

// flowItem is a flow in a list, with its pipe.
type flowItem struct {
	Flow      *store.Flow
	PipeID    string
	PipeName  string
	Schedules []string
	// Next is when the flow's schedules fire next (dashboard; zero when
	// unknown).
	Next time.Time
}

// chart geometry, in SVG user units.
const (
	chartSlot   = 40
	chartBar    = 15
	chartHeight = 160
	chartTop    = 10
	chartBase   = 140
)

func (c *Console) dashboardPage(w http.ResponseWriter, r *http.Request) {
	g := access.GrantFrom(r.Context())
	ctx := r.Context()
	now := time.Now().UTC()
	first := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -(dashboardDays - 1))
	d := dashboard{ChartWidth: dashboardDays * chartSlot, ChartHeight: chartHeight, BaseY: chartBase}
	for i := range dashboardDays {
		d.Days = append(d.Days, dayCount{Day: first.AddDate(0, 0, i)})
	}
	// Summed per day and the failures picked in the database: the page
	// costs the same with ten runs or a hundred thousand.
	days, err := c.Services.Runs.Days(ctx, g.Project.ID, first)
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	for _, day := range days {
		if i := int(day.Day.Sub(first) / (24 * time.Hour)); i >= 0 && i < dashboardDays {
			d.Days[i].Runs, d.Days[i].Succeeded, d.Days[i].Failed = day.Runs, day.Succeeded, day.Failed
		}
	}
	recent, err := c.Services.Runs.RecentFailures(ctx, g.Project.ID, first, dashboardFailures)
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	flows, names, err := c.projectFlows(r, g.Project.ID)
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	for _, run := range recent {
		d.Failures = append(d.Failures, runItem{Run: run, Flow: names[run.FlowID]})
	}
	for _, fl := range flows {
		if fl.Flow.Enabled && len(fl.Schedules) > 0 {
			// When each schedule fires next, as the scheduler sees it.
			if c.Services.Scheduler != nil {
				if fs, err := c.Services.Scheduler.Schedule(r.Context(), g.Project.ID, fl.PipeID, fl.Flow.ID, 1); err == nil {
					for _, sv := range fs.Schedules {
						if !sv.Next.IsZero() && (fl.Next.IsZero() || sv.Next.Before(fl.Next)) {
							fl.Next = sv.Next
						}
					}
				}
			}
			d.Flows = append(d.Flows, fl)
		}
	}
	sort.SliceStable(d.Flows, func(i, j int) bool {
		a, b := d.Flows[i].Next, d.Flows[j].Next
		return !a.IsZero() && (b.IsZero() || a.Before(b))
	})
	d.layout()
	notice := ""
	if r.URL.Query().Get("notice") == "created" {
		notice = "The project is ready. Next: add a pipe under Pipes and flows."
	}
	c.render(w, r, http.StatusOK, "project.html", page{Title: g.Project.Name, Notice: notice, Data: d})
}

// layout sums the days and places the chart's bars: per day a succeeded
// and a failed bar, scaled to the busiest day. Sizes are SVG attributes,
// since the CSP allows no style attributes.
func (d *dashboard) layout() {
	var most int64 = 1
	for _, day := range d.Days {
		d.Succeeded += day.Succeeded
		d.Failed += day.Failed
		d.Runs += day.Runs
		most = max(most, day.Succeeded, day.Failed)
	}
	if total := d.Succeeded + d.Failed; total > 0 {
		d.RatePercent = fmt.Sprintf("%.1f%%", float64(d.Succeeded)*100/float64(total))
	}
	span := int64(chartBase - chartTop)
	for i := range d.Days {
		day := &d.Days[i]
		day.X = i*chartSlot + 4
		day.FailX = day.X + chartBar + 2
		day.SucH = int(day.Succeeded * span / most)
		day.FailH = int(day.Failed * span / most)
		// A day with records keeps a visible bar however small.
		if day.Succeeded > 0 && day.SucH == 0 {
			day.SucH = 1
		}
		if day.Failed > 0 && day.FailH == 0 {
			day.FailH = 1
		}
		day.SucY = chartBase - day.SucH
		day.FailY = chartBase - day.FailH
		day.Label = day.Day.Format("Jan 2")
		day.ShowLabel = i%2 == 1
	}
}

// projectFlows lists every flow of a project with its pipe, and the flow
// names by ID.
func (c *Console) projectFlows(r *http.Request, projectID string) ([]flowItem, map[string]string, error) {
	pipes, err := c.Services.Pipelines.ListPipes(r.Context(), projectID)
	if err != nil {
		return nil, nil, err
	}
	var out []flowItem
	names := map[string]string{}
	for _, p := range pipes {
		fs, err := c.Services.Pipelines.ListFlows(r.Context(), projectID, p.Row.ID)
		if err != nil {
			return nil, nil, err
		}
		for _, f := range fs {
			out = append(out, flowItem{Flow: f, PipeID: p.Row.ID, PipeName: p.Row.Name, Schedules: schedulesOf(f.Definition)})
			names[f.ID] = f.Name
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Flow.Name < out[j].Flow.Name })
	return out, names, nil
}

// principalOf is the caller; the guard has made sure there is one.
func principalOf(r *http.Request) *account.Principal { return account.PrincipalFrom(r.Context()) }
