package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/consolelog"
	"github.com/sluice-dev/sluice/internal/runs"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

// runRoutes are the pages of runs, failed records and console logs. Each
// asks the guard for the action its API twin needs (api.go), so a page
// and the API never disagree about who may do what.
func (c *Console) runRoutes() []httpx.Route {
	u := httpx.User
	return []httpx.Route{
		{Method: "GET", Path: "/projects/{p}/runs", Access: u, Action: access.ViewProject, Handler: c.runsPage},
		{Method: "GET", Path: "/projects/{p}/runs/{r}", Access: u, Action: access.ViewProject, Handler: c.runPage},
		{Method: "POST", Path: "/projects/{p}/runs/{r}/reprocess", Access: u, Action: access.RunFlows, Handler: c.runReprocess, Form: true},
		{Method: "POST", Path: "/projects/{p}/runs/{r}/cancel", Access: u, Action: access.RunFlows, Handler: c.runCancel, Form: true},
		{Method: "POST", Path: "/projects/{p}/runs/{r}/delete", Access: u, Action: access.ConfigureProject, Handler: c.runDelete, Form: true},
		{Method: "GET", Path: "/projects/{p}/console-logs", Access: u, Action: access.ViewProject, Handler: c.consoleLogsPage},
		{Method: "POST", Path: "/projects/{p}/console-logs/{l}/download", Access: u, Action: access.RunFlows, Handler: c.consoleLogDownload, Form: true},
		{Method: "POST", Path: "/projects/{p}/console-logs/{l}/delete", Access: u, Action: access.ConfigureProject, Handler: c.consoleLogDelete, Form: true},
	}
}

// Audit actions of console logs, the same as the API's.
const (
	actionConsoleLogLink   = consolelog.ActionLink
	actionConsoleLogDelete = consolelog.ActionDelete
)

// runsPageSize is how many runs one page of the list shows.
const runsPageSize = 50

var (
	runsStatusFilter  = []string{store.RunQueued, store.RunRunning, store.RunCompleted, store.RunPartiallyFailed, store.RunFailed, store.RunCancelled}
	runsTriggerFilter = []string{store.TriggerManual, store.TriggerSchedule, store.TriggerDynamic, store.TriggerReprocess}
)

// runRow is a run as the pages show it.
type runRow struct {
	*store.Run
	FlowName string
	Duration string
	Active   bool
}

func (c *Console) viewRun(r *store.Run, flows map[string]string) runRow {
	v := runRow{Run: r, FlowName: flows[r.FlowID], Active: !r.Finished()}
	if v.FlowName == "" {
		v.FlowName = r.FlowID
	}
	switch {
	case r.StartedAt != nil && r.FinishedAt != nil:
		v.Duration = max(r.FinishedAt.Sub(*r.StartedAt), 0).Round(time.Millisecond).String()
	case r.StartedAt != nil:
		v.Duration = "running for " + max(c.Services.Store.Now().Sub(*r.StartedAt), 0).Round(time.Second).String()
	}
	return v
}

// runFlowOption is one flow of the project, for the filter and for names.
type runFlowOption struct {
	ID, Name string
}

// runFlowNames lists the project's flows ("pipe / flow" names) by ID.
func (c *Console) runFlowNames(ctx context.Context, pid string) ([]runFlowOption, map[string]string, error) {
	rd := c.Services.Store.Reader()
	pipes, err := rd.ListPipes(ctx, pid)
	if err != nil {
		return nil, nil, err
	}
	var opts []runFlowOption
	names := map[string]string{}
	for _, p := range pipes {
		fs, err := rd.ListFlows(ctx, pid, p.ID)
		if err != nil {
			return nil, nil, err
		}
		for _, f := range fs {
			n := p.Name + " / " + f.Name
			opts = append(opts, runFlowOption{ID: f.ID, Name: n})
			names[f.ID] = n
		}
	}
	return opts, names, nil
}

// runsData is what runs.html shows.
type runsData struct {
	Runs                  []runRow
	Flows                 []runFlowOption
	Statuses, Triggers    []string
	Status, Trigger, Flow string
	Filtered, Refresh     bool
	NextPage, FirstPage   string
	ProjectID             string
}

func (c *Console) runsPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	g := access.GrantFrom(ctx)
	q := r.URL.Query()
	f := store.RunFilter{ProjectID: g.Project.ID, FlowID: q.Get("flow"), Status: q.Get("status"), Trigger: q.Get("trigger"),
		Before: q.Get("before"), Limit: runsPageSize}
	// An unknown filter value is ignored rather than refused: the form
	// offers only known ones, and a stale bookmark should still show runs.
	if !slices.Contains(runsStatusFilter, f.Status) {
		f.Status = ""
	}
	if !slices.Contains(runsTriggerFilter, f.Trigger) {
		f.Trigger = ""
	}
	flows, names, err := c.runFlowNames(ctx, g.Project.ID)
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	if _, ok := names[f.FlowID]; !ok {
		f.FlowID = ""
	}
	rs, err := c.Services.Runs.List(ctx, f)
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	d := runsData{Flows: flows, Statuses: runsStatusFilter, Triggers: runsTriggerFilter, Status: f.Status, Trigger: f.Trigger, Flow: f.FlowID,
		Filtered: f.Status != "" || f.Trigger != "" || f.FlowID != "", ProjectID: g.Project.ID}
	for _, run := range rs {
		v := c.viewRun(run, names)
		d.Refresh = d.Refresh || v.Active
		d.Runs = append(d.Runs, v)
	}
	base := url.Values{}
	for k, v := range map[string]string{"status": f.Status, "trigger": f.Trigger, "flow": f.FlowID} {
		if v != "" {
			base.Set(k, v)
		}
	}
	self := "/projects/" + g.Project.ID + "/runs"
	if len(rs) == runsPageSize {
		next := url.Values{}
		for k, v := range base {
			next[k] = v
		}
		next.Set("before", rs[len(rs)-1].ID)
		d.NextPage = self + "?" + next.Encode()
	}
	if f.Before != "" {
		d.FirstPage = self
		if len(base) > 0 {
			d.FirstPage += "?" + base.Encode()
		}
	}
	notice := ""
	if q.Get("notice") == "deleted" {
		notice = "The run was deleted, with its failed records and console log."
	}
	c.render(w, r, http.StatusOK, "runs.html", page{Title: "Runs", Notice: notice, Data: d, Refresh: d.Refresh})
}

// runData is what run.html shows.
type runData struct {
	Run                 runRow
	TriggeredBy         string // the user's email, or the consumer's name
	Failures            []*store.RunFailure
	Open                int // failures not reprocessed yet
	MoreFailures        string
	CanRun, CanDelete   bool
	Selected            map[string]bool
	ReprocessError      string
	ReprocessIDProblems []string
}

// runFailuresPageSize bounds the failed records one run page lists.
const runFailuresPageSize = 500

func (c *Console) runPage(w http.ResponseWriter, r *http.Request) {
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	c.showRun(w, r, http.StatusOK, max(after, 0), runData{}, runNotice(r.URL.Query().Get("notice")))
}

// showRun renders a run's page; d carries a refused form's state.
func (c *Console) showRun(w http.ResponseWriter, r *http.Request, status int, after int64, d runData, notice string) {
	ctx := r.Context()
	g := access.GrantFrom(ctx)
	run, err := c.Services.Runs.Get(ctx, g.Project.ID, r.PathValue("r"))
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	_, names, err := c.runFlowNames(ctx, g.Project.ID)
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	fs, err := c.Services.Runs.Failures(ctx, g.Project.ID, run.ID, after, runFailuresPageSize)
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	d.Run, d.Failures, d.TriggeredBy = c.viewRun(run, names), fs, run.TriggeredBy
	if run.Trigger == store.TriggerManual || run.Trigger == store.TriggerReprocess {
		// Users are named by their email; one deleted since keeps its ID.
		if u, err := c.Services.Store.Reader().UserByID(ctx, run.TriggeredBy); err == nil {
			d.TriggeredBy = u.Email
		}
	}
	d.CanRun, d.CanDelete = access.Can(g.Role, access.RunFlows), access.Can(g.Role, access.ConfigureProject)
	for _, f := range fs {
		if f.ReprocessedBy == "" && f.EntityID != "" {
			d.Open++
		}
	}
	if len(fs) == runFailuresPageSize {
		d.MoreFailures = "/projects/" + g.Project.ID + "/runs/" + run.ID + "?after=" + strconv.FormatInt(fs[len(fs)-1].ID, 10)
	}
	title := "Run " + run.ID
	p := page{Title: title, Data: d, Notice: notice, Refresh: d.Run.Active}
	if d.ReprocessError != "" {
		p.Error = d.ReprocessError
	}
	c.render(w, r, status, "run.html", p)
}

// runNotice turns a notice code of a redirect into text: a link must not
// be able to put its own words on the page.
func runNotice(code string) string {
	switch code {
	case "reprocess":
		return "Reprocessing started: this run fetches the failed records again by their entity IDs."
	case "cancelled":
		return "The run was cancelled."
	case "cancel-requested":
		return "Cancelling: the run stops after the record it is working on."
	}
	return ""
}

func (c *Console) runReprocess(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	ctx := r.Context()
	g := access.GrantFrom(ctx)
	// "all" reprocesses every open failure (nil IDs, as the API with no
	// body); otherwise the ticked entity IDs.
	var ids []string
	selected := map[string]bool{}
	if r.PostForm.Get("scope") != "all" {
		ids = r.PostForm["entity_id"]
		if len(ids) == 0 {
			c.showRun(w, r, http.StatusUnprocessableEntity, 0, runData{ReprocessError: "Tick the failed records to reprocess, or choose \"Reprocess all failed records\"."}, "")
			return
		}
		for _, id := range ids {
			selected[id] = true
		}
	}
	run, err := c.Services.Runs.StartReprocess(ctx, account.PrincipalFrom(ctx), g, r.PathValue("r"), ids, clientOf(r))
	if err != nil {
		status, msg, problems := runControlProblem(r, err)
		if status == http.StatusNotFound {
			c.Fail(w, r, err)
			return
		}
		c.showRun(w, r, status, 0, runData{ReprocessError: msg, ReprocessIDProblems: problems, Selected: selected}, "")
		return
	}
	http.Redirect(w, r, "/projects/"+g.Project.ID+"/runs/"+run.ID+"?notice=reprocess", http.StatusSeeOther)
}

// runControlProblem is how a refused cancel or reprocess reads on a page:
// its status and message as the API gives them (409 for a run in the
// wrong state, 422 for what cannot be reprocessed), and the entity IDs
// that are no failure of the run.
func runControlProblem(r *http.Request, err error) (int, string, []string) {
	var se *runs.StateError
	var re *runs.ReprocessError
	switch {
	case errors.As(err, &se):
		return http.StatusConflict, se.Message, nil
	case errors.As(err, &re):
		var ps []string
		for _, id := range re.Unknown {
			ps = append(ps, "not a failed record of this run: "+id)
		}
		return http.StatusUnprocessableEntity, re.Message, ps
	}
	status, msg := problem(r, err)
	return status, msg, nil
}

func (c *Console) runCancel(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	g := access.GrantFrom(ctx)
	run, err := c.Services.Runs.CancelRun(ctx, account.PrincipalFrom(ctx), g, r.PathValue("r"), clientOf(r))
	if err != nil {
		status, msg, _ := runControlProblem(r, err)
		if status == http.StatusNotFound {
			c.Fail(w, r, err)
			return
		}
		c.showRun(w, r, status, 0, runData{ReprocessError: msg}, "")
		return
	}
	notice := "cancelled"
	if !run.Finished() {
		notice = "cancel-requested"
	}
	http.Redirect(w, r, "/projects/"+g.Project.ID+"/runs/"+run.ID+"?notice="+notice, http.StatusSeeOther)
}

func (c *Console) runDelete(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	g := access.GrantFrom(ctx)
	if err := c.Services.Runs.Delete(ctx, account.PrincipalFrom(ctx), g, r.PathValue("r"), clientOf(r)); err != nil {
		c.Fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/projects/"+g.Project.ID+"/runs?notice=deleted", http.StatusSeeOther)
}

// consoleLogRow is a console log as the page shows it.
type consoleLogRow struct {
	*store.ConsoleLog
	FlowName string
	Size     string
	Capture  string
}

// consoleLogsData is what consolelogs.html shows.
type consoleLogsData struct {
	Logs              []consoleLogRow
	CanRun, CanDelete bool
	NextPage          string
	ProjectID         string
}

func (c *Console) consoleLogsPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	g := access.GrantFrom(ctx)
	ls, err := c.Services.Store.Reader().ListConsoleLogs(ctx, store.ConsoleLogFilter{ProjectID: g.Project.ID,
		BeforeID: r.URL.Query().Get("before"), Limit: runsPageSize})
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	_, names, err := c.runFlowNames(ctx, g.Project.ID)
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	d := consoleLogsData{CanRun: access.Can(g.Role, access.RunFlows), CanDelete: access.Can(g.Role, access.ConfigureProject), ProjectID: g.Project.ID}
	for _, l := range ls {
		row := consoleLogRow{ConsoleLog: l, FlowName: names[l.FlowID], Size: consoleLogSize(l.Size),
			Capture: strings.NewReplacer("[", "", "]", "", `"`, "", ",", ", ").Replace(l.Capture)}
		if row.FlowName == "" {
			row.FlowName = l.FlowID
		}
		d.Logs = append(d.Logs, row)
	}
	if len(ls) == runsPageSize {
		d.NextPage = "/projects/" + g.Project.ID + "/console-logs?before=" + url.QueryEscape(ls[len(ls)-1].ID)
	}
	notice := ""
	if r.URL.Query().Get("notice") == "deleted" {
		notice = "The console log was deleted."
	}
	c.render(w, r, http.StatusOK, "consolelogs.html", page{Title: "Console logs", Notice: notice, Data: d})
}

// consoleLogSize writes a size for people.
func consoleLogSize(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// consoleLogDownload makes a download link for the caller, records it as
// the API does, and sends the browser to it: the link lives five minutes
// and never appears on a page.
func (c *Console) consoleLogDownload(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	g := access.GrantFrom(ctx)
	l, err := c.Services.Store.Reader().ConsoleLogByID(ctx, g.Project.ID, r.PathValue("l"))
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	tok, _, err := c.Services.ConsoleLogs.IssueLink(ctx, l, account.PrincipalFrom(ctx), clientOf(r))
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	// A relative link: the browser is on this site already, whatever
	// BaseURL says.
	http.Redirect(w, r, "/downloads/"+tok, http.StatusSeeOther)
}

// consoleLogDelete deletes one log: its blob, then its row, then the
// audit event, as the API does.
func (c *Console) consoleLogDelete(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	g := access.GrantFrom(ctx)
	l, err := c.Services.Store.Reader().ConsoleLogByID(ctx, g.Project.ID, r.PathValue("l"))
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	if err := c.Services.ConsoleLogs.Delete(ctx, g.Project.ID, []*store.ConsoleLog{l}, account.PrincipalFrom(ctx), clientOf(r),
		"console_log:"+l.ID, map[string]any{"run_id": l.RunID, "pipe_id": l.PipeID}); err != nil {
		c.Fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/projects/"+g.Project.ID+"/console-logs?notice=deleted", http.StatusSeeOther)
}
