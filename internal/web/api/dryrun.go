package api

import (
	"encoding/json"
	"net/http"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/flow"
	"github.com/sluice-dev/sluice/internal/runs"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

// dryRunView is a dry run's answer: what became of each sample record.
type dryRunView struct {
	FlowID string `json:"flow_id"`
	// Version is the saved version tried, null for an unsaved definition.
	Version *int            `json:"version"`
	Calls   bool            `json:"calls"`
	Counts  runRecords      `json:"counts"`
	Records []dryRecordView `json:"records"`
}

type dryRecordView struct {
	Index    int              `json:"index"`
	EntityID string           `json:"entity_id,omitempty"`
	Status   string           `json:"status"`
	Stage    string           `json:"stage,omitempty"`
	Error    string           `json:"error,omitempty"`
	Steps    []map[string]any `json:"steps"`
	Writes   []dryWriteView   `json:"writes"`
}

type dryWriteView struct {
	Path      string `json:"path"`
	Item      string `json:"item,omitempty"`
	Sent      any    `json:"sent"`
	Previewed bool   `json:"previewed"`
}

// testFlow is a dry run: the sample records go through the saved flow,
// or an unsaved definition, and nothing is written or kept.
func (a *API) testFlow(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Records    json.RawMessage `json:"records"`
		Definition json.RawMessage `json:"definition"`
		Calls      bool            `json:"calls"`
	}
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	pipeID, id := flowPath(r)
	res, err := a.Runs.DryRun(r.Context(), grant(r).Project.ID, pipeID, id,
		runs.DryRunInput{Records: in.Records, Definition: in.Definition, Calls: in.Calls})
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out := dryRunView{FlowID: id, Calls: in.Calls, Records: make([]dryRecordView, len(res.Records))}
	if res.Version > 0 {
		out.Version = &res.Version
	}
	for i, t := range res.Records {
		out.Counts.Read++
		switch t.Status {
		case engine.RecordSucceeded:
			out.Counts.Succeeded++
		case engine.RecordFailed:
			out.Counts.Failed++
		default:
			out.Counts.Skipped++
		}
		out.Records[i] = viewDryRecord(i, t)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func viewDryRecord(i int, t engine.RecordTrace) dryRecordView {
	v := dryRecordView{Index: i, EntityID: t.EntityID, Status: t.Status,
		Steps: make([]map[string]any, len(t.Steps)), Writes: make([]dryWriteView, len(t.Writes))}
	if t.Failure != nil {
		v.Stage, v.Error = t.Failure.Stage, t.Failure.Error
	}
	for k, s := range t.Steps {
		v.Steps[k] = viewDryStep(s)
	}
	for k, wr := range t.Writes {
		v.Writes[k] = dryWriteView{Path: wr.Path, Item: wr.Item, Sent: wr.Sent, Previewed: wr.Previewed}
	}
	return v
}

// viewDryStep shows one step's trace; what a step gave besides the record
// is named after the step: the values a log kept, the records a foreach
// made, the case a switch took (null: none), what respond would answer.
func viewDryStep(s engine.StepTrace) map[string]any {
	m := map[string]any{"path": s.Path, "kind": s.Kind, "status": s.Status}
	if s.Item != "" {
		m["item"] = s.Item
	}
	if s.Status == engine.StepOK || s.Status == engine.StepNotMade {
		m["output"] = s.Output
		switch s.Kind {
		case flow.StepLog:
			m["logged"] = s.Value
		case flow.StepSwitch:
			m["case"] = s.Value
		case flow.StepRespond:
			m["response"] = s.Value
		}
	}
	if s.Kind == flow.StepForeach && s.Status != engine.StepFailed {
		delete(m, "output")
		m["records"] = s.Value
	}
	if s.Error != "" {
		m["error"] = s.Error
	}
	return m
}
