package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/project"
	"github.com/sluice-dev/sluice/internal/store"
)

// pipeItem is a pipe with its flows, for the pipes page.
type pipeItem struct {
	Pipe  *pipeline.Pipe
	Flows []*store.Flow
	// Editor is the new-flow form's textarea: the starter definition, or
	// the text of a refused create.
	Editor   editorField
	Problems []pipeline.Problem
	// Source is the refused text line by line with its problems (only
	// under the form that was sent).
	Source *sourceView
}

// editorField is a flow editor's textarea, for the "flow-definition"
// template. The one whose text has problems has the id "definition" (the
// problem links and editor.js lead there); a page has at most one.
type editorField struct {
	ID, KeysID string
	Text       string
	Rows       int
	Problems   bool
}

// problemEditor is the editor of a text with problems (or of a flow's
// own page, which has one editor).
func problemEditor(text string, rows int, problems bool) editorField {
	return editorField{ID: "definition", KeysID: "editor-keys", Text: text, Rows: rows, Problems: problems}
}

// pipesData is what the pipes page shows.
type pipesData struct {
	Pipes   []*pipeItem
	CanEdit bool
	Starter string
	// CaptureKinds are what a console log can capture.
	CaptureKinds []string
}

// starterFlow is the definition a new flow's editor starts with: a flow
// that runs as it is, once in/orders.ndjson exists in the files directory.
const starterFlow = `name: orders to file
read:
  file: {path: in/orders.ndjson, format: ndjson}
entity_id: .id
steps:
  - map: '{id, total}'
  - write:
      file: {path: out/orders.ndjson, format: ndjson}
`

func (c *Console) pipesPage(w http.ResponseWriter, r *http.Request) {
	c.renderPipes(w, r, http.StatusOK, page{}, "", "", nil)
}

// renderPipes shows the pipes page; draftPipe, draft and problems put a
// refused new flow back under its pipe.
func (c *Console) renderPipes(w http.ResponseWriter, r *http.Request, status int, p page, draftPipe, draft string, problems []pipeline.Problem) {
	g := access.GrantFrom(r.Context())
	pipes, err := c.Services.Pipelines.ListPipes(r.Context(), g.Project.ID)
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	d := pipesData{CanEdit: g.Allows(access.EditIntegrations), Starter: starterFlow, CaptureKinds: project.CaptureKinds}
	for _, pp := range pipes {
		fs, err := c.Services.Pipelines.ListFlows(r.Context(), g.Project.ID, pp.Row.ID)
		if err != nil {
			c.Fail(w, r, err)
			return
		}
		item := &pipeItem{Pipe: pp, Flows: fs,
			Editor: editorField{ID: "definition-" + pp.Row.ID, KeysID: "editor-keys-" + pp.Row.ID, Text: starterFlow, Rows: 14}}
		if pp.Row.ID == draftPipe {
			item.Editor.Text = draft
			if len(problems) > 0 {
				item.Problems = placeInText(draft, problems)
				item.Source = sourceViewOf(draft, item.Problems)
				item.Editor = problemEditor(draft, 14, true)
			}
		}
		d.Pipes = append(d.Pipes, item)
	}
	switch r.URL.Query().Get("notice") {
	case "pipe-created":
		p.Notice = "The pipe is ready. Next: add a flow to it."
	case "console-log":
		p.Notice = "Console-log settings saved. Capture starts or stops with the next run."
	}
	p.Title = "Pipes and flows · " + g.Project.Name
	p.Data = d
	c.render(w, r, status, "pipes.html", p)
}

func (c *Console) pipesPost(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	name, desc := r.PostForm.Get("name"), r.PostForm.Get("description")
	in := pipeline.PipeInput{Name: &name}
	if strings.TrimSpace(desc) != "" {
		in.Description = &desc
	}
	_, err := c.Services.Pipelines.CreatePipe(r.Context(), principalOf(r), access.GrantFrom(r.Context()), in, clientOf(r))
	if err != nil {
		status, msg, fields := formProblems(r, err)
		c.renderPipes(w, r, status, page{Error: msg, Fields: fields, Values: map[string]string{"name": name, "description": desc}}, "", "", nil)
		return
	}
	http.Redirect(w, r, "/projects/"+access.GrantFrom(r.Context()).Project.ID+"/pipes?notice=pipe-created", http.StatusSeeOther)
}

// definitionOf turns the editor's text into what the pipeline service
// takes: a JSON object as it is, anything else as YAML text.
func definitionOf(text string) json.RawMessage {
	t := strings.TrimSpace(text)
	if strings.HasPrefix(t, "{") {
		return json.RawMessage(t)
	}
	b, _ := json.Marshal(text)
	return b
}

// problemsOf is the problems of a refused flow document, or nil when err
// is another kind of failure.
func problemsOf(err error) []pipeline.Problem {
	var v *pipeline.ValidationError
	if errors.As(err, &v) {
		return v.Problems
	}
	return nil
}

func (c *Console) flowsPost(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	g := access.GrantFrom(r.Context())
	pipeID, text := r.PathValue("pipe"), r.PostForm.Get("definition")
	f, err := c.Services.Pipelines.CreateFlow(r.Context(), principalOf(r), g, pipeID,
		pipeline.FlowInput{Definition: definitionOf(text)}, clientOf(r))
	if err != nil {
		if ps := problemsOf(err); ps != nil {
			c.renderPipes(w, r, http.StatusUnprocessableEntity, page{Error: "The flow was not created: fix the problems listed beside its definition."}, pipeID, text, ps)
			return
		}
		c.Fail(w, r, err)
		return
	}
	http.Redirect(w, r, flowURL(g.Project.ID, pipeID, f.ID)+"?notice=created", http.StatusSeeOther)
}

func flowURL(projectID, pipeID, flowID string) string {
	return "/projects/" + projectID + "/pipes/" + pipeID + "/flows/" + flowID
}

// flowData is what the flow page shows.
type flowData struct {
	Flow     *store.Flow
	Pipe     *pipeline.Pipe
	URL      string
	Text     string
	Problems []pipeline.Problem
	Versions []*store.FlowVersion
	Diagram  diagram
	CanEdit  bool
	CanRun   bool
	// SampleRecords fills the dry-run form.
	SampleRecords string
	// Mappings are the flow's map steps, field by field.
	Mappings []mapStep
	// Source is the refused text line by line with its problems (only
	// after a refused save).
	Source *sourceView
	Editor editorField
}

func (c *Console) flowPage(w http.ResponseWriter, r *http.Request) {
	notice := map[string]string{
		"created":  "The flow is saved as version 1. It is off: run it now, or turn it on to let its schedule run it.",
		"saved":    "Saved as a new version.",
		"enabled":  "The flow is on: its schedules and dynamic calls run it.",
		"disabled": "The flow is off: nothing runs it but you.",
	}[r.URL.Query().Get("notice")]
	c.renderFlow(w, r, http.StatusOK, page{Notice: notice}, "", nil)
}

// renderFlow shows a flow; text and problems, when set, are a refused
// save to put back in the editor.
func (c *Console) renderFlow(w http.ResponseWriter, r *http.Request, status int, p page, text string, problems []pipeline.Problem) {
	g := access.GrantFrom(r.Context())
	ctx := r.Context()
	pipeID, id := r.PathValue("pipe"), r.PathValue("f")
	pp, err := c.Services.Pipelines.GetPipe(ctx, g.Project.ID, pipeID)
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	f, err := c.Services.Pipelines.GetFlow(ctx, g.Project.ID, pipeID, id)
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	vs, err := c.Services.Pipelines.ListVersions(ctx, g.Project.ID, pipeID, id)
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	if text == "" && problems == nil {
		text = yamlOf(f.Definition)
	}
	var source *sourceView
	if problems != nil {
		problems = placeInText(text, problems)
		source = sourceViewOf(text, problems)
	}
	d := flowData{Source: source, Editor: problemEditor(text, 20, len(problems) > 0), Flow: f, Pipe: pp, URL: flowURL(g.Project.ID, pipeID, id), Text: text, Problems: problems, Versions: vs,
		Diagram: diagramOf(f.Definition), CanEdit: g.Allows(access.EditIntegrations), CanRun: g.Allows(access.RunFlows),
		SampleRecords: "[\n  {\"id\": 1}\n]", Mappings: mapStepsOf(f.Definition)}
	p.Title = f.Name + " · " + g.Project.Name
	p.Data = d
	c.render(w, r, status, "flow.html", p)
}

// yamlOf shows a stored definition (canonical JSON) as YAML, keeping its
// keys' order; JSON itself when it cannot.
func yamlOf(def string) string {
	y, err := yaml.JSONToYAML([]byte(def))
	if err != nil {
		return def
	}
	return string(y)
}

func (c *Console) flowSave(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	g := access.GrantFrom(r.Context())
	pipeID, id, text := r.PathValue("pipe"), r.PathValue("f"), r.PostForm.Get("definition")
	_, err := c.Services.Pipelines.SaveFlow(r.Context(), principalOf(r), g, pipeID, id, definitionOf(text), clientOf(r))
	if err != nil {
		if ps := problemsOf(err); ps != nil {
			c.renderFlow(w, r, http.StatusUnprocessableEntity, page{Error: "Nothing was saved: fix the problems listed beside the definition."}, text, ps)
			return
		}
		c.Fail(w, r, err)
		return
	}
	http.Redirect(w, r, flowURL(g.Project.ID, pipeID, id)+"?notice=saved", http.StatusSeeOther)
}

func (c *Console) flowEnable(w http.ResponseWriter, r *http.Request)  { c.flowSetEnabled(w, r, true) }
func (c *Console) flowDisable(w http.ResponseWriter, r *http.Request) { c.flowSetEnabled(w, r, false) }

func (c *Console) flowSetEnabled(w http.ResponseWriter, r *http.Request, on bool) {
	g := access.GrantFrom(r.Context())
	pipeID, id := r.PathValue("pipe"), r.PathValue("f")
	if _, err := c.Services.Pipelines.SetFlowEnabled(r.Context(), principalOf(r), g, pipeID, id, on, clientOf(r)); err != nil {
		c.Fail(w, r, err)
		return
	}
	notice := map[bool]string{true: "enabled", false: "disabled"}[on]
	http.Redirect(w, r, flowURL(g.Project.ID, pipeID, id)+"?notice="+notice, http.StatusSeeOther)
}

func (c *Console) flowRun(w http.ResponseWriter, r *http.Request) {
	g := access.GrantFrom(r.Context())
	run, err := c.Services.Runs.StartManual(r.Context(), principalOf(r), g, r.PathValue("pipe"), r.PathValue("f"), clientOf(r))
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/projects/"+g.Project.ID+"/runs/"+run.ID, http.StatusSeeOther)
}

// diagram is a flow drawn as boxes: where it reads, each step, where it
// writes.
type diagram struct {
	Trigger string
	Read    box
	Steps   []box
}

// box is one stage of a diagram.
type box struct {
	Kind, Detail string
	// Write marks the stages that send records somewhere.
	Write bool
}

// diagramOf reads a stored (valid, canonical) definition into boxes. It
// only describes; the validator has already judged the document.
func diagramOf(def string) diagram {
	var doc map[string]any
	if err := json.Unmarshal([]byte(def), &doc); err != nil {
		return diagram{Read: box{Kind: "read", Detail: "the definition could not be read"}}
	}
	d := diagram{Trigger: "by hand or through the API"}
	if tr, ok := doc["trigger"].(map[string]any); ok {
		if s := schedulesOfDoc(doc); len(s) > 0 {
			d.Trigger = "on a schedule: " + strings.Join(s, ", ")
		} else if dyn, ok := tr["dynamic"].(map[string]any); ok {
			d.Trigger = fmt.Sprintf("by a dynamic call (%v)", dyn["mode"])
		}
	}
	d.Read = box{Kind: "read", Detail: endpoint(doc["read"])}
	if doc["read"] == nil {
		d.Read.Detail = "the request body of a dynamic call"
	}
	if steps, ok := doc["steps"].([]any); ok {
		for _, s := range steps {
			d.Steps = append(d.Steps, stepBox(s))
		}
	}
	if wr, ok := doc["write"]; ok {
		d.Steps = append(d.Steps, box{Kind: "write", Detail: endpoint(wr), Write: true})
	}
	return d
}

// stepBox describes one step: its kind (the step's one key) and a short
// summary of what it does.
func stepBox(s any) box {
	m, ok := s.(map[string]any)
	if !ok || len(m) == 0 {
		return box{Kind: "step"}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	kind := keys[0]
	v := m[kind]
	switch kind {
	case "write", "call":
		return box{Kind: kind, Detail: endpoint(v), Write: kind == "write"}
	case "switch":
		n := 0
		if bs, ok := v.([]any); ok {
			n = len(bs)
		}
		return box{Kind: kind, Detail: fmt.Sprintf("%d branches", n)}
	}
	if str, ok := v.(string); ok {
		return box{Kind: kind, Detail: shorten(str, 80)}
	}
	b, _ := json.Marshal(v)
	return box{Kind: kind, Detail: shorten(string(b), 80)}
}

// endpoint describes where a read, write or call goes: a connection and
// its request, or a file, or another kind by its name.
func endpoint(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	if conn, ok := m["connection"].(string); ok {
		out := "connection " + conn
		if req, ok := m["request"].(map[string]any); ok {
			out += fmt.Sprintf(": %v %v", req["method"], req["path"])
		}
		return out
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if sub, ok := m[k].(map[string]any); ok {
			if path, ok := sub["path"].(string); ok {
				return fmt.Sprintf("%s %s (%v)", k, path, sub["format"])
			}
			return k
		}
	}
	return strings.Join(keys, ", ")
}

func shorten(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// schedulesOf lists a stored definition's schedules as "cron (zone)".
func schedulesOf(def string) []string {
	var doc map[string]any
	if json.Unmarshal([]byte(def), &doc) != nil {
		return nil
	}
	return schedulesOfDoc(doc)
}

func schedulesOfDoc(doc map[string]any) []string {
	tr, _ := doc["trigger"].(map[string]any)
	ss, _ := tr["schedules"].([]any)
	var out []string
	for _, s := range ss {
		m, _ := s.(map[string]any)
		if cron, ok := m["cron"].(string); ok {
			if tz, ok := m["timezone"].(string); ok && tz != "" {
				cron += " (" + tz + ")"
			}
			out = append(out, cron)
		}
	}
	return out
}
