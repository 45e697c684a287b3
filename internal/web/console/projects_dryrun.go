package console

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/runs"
)

// dryRunData is what the dry-run page shows.
type dryRunData struct {
	URL, FlowName, Records string
	Calls                  bool
	Version                int
	Problems               []pipeline.Problem
	Results                []dryRecord
	Succeeded, Failed      int
	Skipped                int
}

type dryRecord struct {
	Index            int
	EntityID, Status string
	Stage, Error     string
	Steps            []dryStep
	Writes           []dryWrite
}

type dryStep struct {
	Path, Kind, Item, Status string
	Output, Value            string
	// Fields are a map step's target fields with what each got.
	Fields []mapField
}

type dryWrite struct {
	Path, Item, Sent string
	Previewed        bool
}

// pretty shows a value as indented JSON.
func pretty(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return "(cannot be shown as JSON)"
	}
	return string(b)
}

// flowTest runs the saved flow on sample records (runs.Service.DryRun,
// as POST /api/v1/.../flows/{f}/test) and shows what each step made of
// each record and what each write would send.
func (c *Console) flowTest(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	g := access.GrantFrom(r.Context())
	pipeID, id := r.PathValue("pipe"), r.PathValue("f")
	f, err := c.Services.Pipelines.GetFlow(r.Context(), g.Project.ID, pipeID, id)
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	d := dryRunData{URL: flowURL(g.Project.ID, pipeID, id), FlowName: f.Name, Records: r.PostForm.Get("records"),
		Calls: r.PostForm.Get("calls") == "1"}
	p := page{Title: "Dry run · " + f.Name}
	res, err := c.Services.Runs.DryRun(r.Context(), g.Project.ID, pipeID, id,
		runs.DryRunInput{Records: json.RawMessage(d.Records), Calls: d.Calls})
	if err != nil {
		ps := problemsOf(err)
		if ps == nil {
			c.Fail(w, r, err)
			return
		}
		d.Problems = ps
		p.Error = "Nothing ran: fix the sample records."
		p.Data = d
		c.render(w, r, http.StatusUnprocessableEntity, "flow-test.html", p)
		return
	}
	d.Version = res.Version
	maps := map[string][]mapField{}
	for _, m := range mapStepsOf(f.Definition) {
		maps[m.Path] = m.Fields
	}
	for i, t := range res.Records {
		rec := dryRecord{Index: i + 1, EntityID: t.EntityID, Status: t.Status}
		switch t.Status {
		case engine.RecordSucceeded:
			d.Succeeded++
		case engine.RecordFailed:
			d.Failed++
		default:
			d.Skipped++
		}
		if t.Failure != nil {
			rec.Stage, rec.Error = t.Failure.Stage, t.Failure.Error
		}
		for _, s := range t.Steps {
			st := dryStep{Path: s.Path, Kind: string(s.Kind), Item: s.Item, Status: s.Status,
				Output: pretty(s.Output), Value: pretty(s.Value)}
			if out, ok := s.Output.(map[string]any); ok && len(maps[s.Path]) > 0 {
				for _, mf := range maps[s.Path] {
					v, _ := json.Marshal(out[mf.Target])
					mf.Value = string(v)
					st.Fields = append(st.Fields, mf)
				}
			}
			rec.Steps = append(rec.Steps, st)
		}
		for _, wr := range t.Writes {
			rec.Writes = append(rec.Writes, dryWrite{Path: wr.Path, Item: wr.Item, Sent: pretty(wr.Sent), Previewed: wr.Previewed})
		}
		d.Results = append(d.Results, rec)
	}
	p.Data = d
	c.render(w, r, http.StatusOK, "flow-test.html", p)
}

// consoleLogSettingsPost saves a pipe's console-log settings from the
// pipes page (as PATCH .../pipes/{pipe} with console_log): turning it on
// starts its switch-off clock; problems are shown on the page.
func (c *Console) consoleLogSettingsPost(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	g := access.GrantFrom(r.Context())
	on := r.PostForm.Get("enabled") == "1"
	capture := r.PostForm["capture"]
	if capture == nil {
		capture = []string{}
	}
	var sensitive []string
	for _, line := range strings.Split(r.PostForm.Get("sensitive"), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			sensitive = append(sensitive, line)
		}
	}
	if sensitive == nil {
		sensitive = []string{}
	}
	patch := &pipeline.ConsoleLogPatch{Enabled: &on, Capture: &capture, Sensitive: &sensitive}
	if h := strings.TrimSpace(r.PostForm.Get("auto_off_hours")); h != "" {
		n, err := strconv.Atoi(h)
		if err != nil {
			n = -1 // the service says what is allowed
		}
		patch.AutoOffHours = &n
	}
	pipeID := r.PathValue("pipe")
	_, err := c.Services.Pipelines.UpdatePipe(r.Context(), principalOf(r), g, pipeID, pipeline.PipeInput{ConsoleLog: patch}, clientOf(r))
	if err != nil {
		if ps := problemsOf(err); ps != nil {
			msgs := make([]string, 0, len(ps))
			for _, p := range ps {
				msgs = append(msgs, p.Path+": "+p.Message)
			}
			c.renderPipes(w, r, http.StatusUnprocessableEntity, page{Error: "The console-log settings were not saved: " + strings.Join(msgs, "; ")}, "", "", nil)
			return
		}
		c.Fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/projects/"+g.Project.ID+"/pipes?notice=console-log#pipe-"+pipeID, http.StatusSeeOther)
}
