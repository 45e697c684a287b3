package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

// flowView is a flow as the API shows it. Lists leave the definition out
// (read one flow for it).
type flowView struct {
	ID         string          `json:"id"`
	PipeID     string          `json:"pipe_id"`
	Name       string          `json:"name"`
	Enabled    bool            `json:"enabled"`
	Version    int             `json:"version"`
	Definition json.RawMessage `json:"definition,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
	CreatedBy  string          `json:"created_by"`
}

func viewFlow(f *store.Flow, withDefinition bool) flowView {
	v := flowView{ID: f.ID, PipeID: f.PipeID, Name: f.Name, Enabled: f.Enabled, Version: f.Version,
		CreatedAt: f.CreatedAt, UpdatedAt: f.UpdatedAt, CreatedBy: f.CreatedBy}
	if withDefinition {
		v.Definition = json.RawMessage(f.Definition)
	}
	return v
}

type flowVersionView struct {
	Version      int             `json:"version"`
	SavedAt      time.Time       `json:"saved_at"`
	SavedBy      string          `json:"saved_by"`
	SavedByEmail string          `json:"saved_by_email,omitempty"`
	RestoredFrom int             `json:"restored_from,omitempty"`
	Definition   json.RawMessage `json:"definition,omitempty"`
}

func viewFlowVersion(v *store.FlowVersion, withDefinition bool) flowVersionView {
	out := flowVersionView{Version: v.Version, SavedAt: v.SavedAt, SavedBy: v.SavedBy, SavedByEmail: v.SavedByEmail, RestoredFrom: v.RestoredFrom}
	if withDefinition {
		out.Definition = json.RawMessage(v.Definition)
	}
	return out
}

// flowPath is the pipe and flow IDs of a flow route.
func flowPath(r *http.Request) (pipeID, flowID string) { return r.PathValue("pipe"), r.PathValue("f") }

func (a *API) listFlows(w http.ResponseWriter, r *http.Request) {
	fs, err := a.Pipelines.ListFlows(r.Context(), grant(r).Project.ID, r.PathValue("pipe"))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out := make([]flowView, 0, len(fs))
	for _, f := range fs {
		out = append(out, viewFlow(f, false))
	}
	httpx.WriteJSON(w, http.StatusOK, list("flows", out))
}

func (a *API) createFlow(w http.ResponseWriter, r *http.Request) {
	var in struct {
		// Definition is the flow document as a JSON object, or YAML text
		// as a JSON string.
		Definition json.RawMessage `json:"definition"`
		Enabled    *bool           `json:"enabled"`
	}
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	f, err := a.Pipelines.CreateFlow(r.Context(), principal(r), grant(r), r.PathValue("pipe"),
		pipeline.FlowInput{Definition: in.Definition, Enabled: in.Enabled}, client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, viewFlow(f, true))
}

func (a *API) getFlow(w http.ResponseWriter, r *http.Request) {
	pipeID, id := flowPath(r)
	f, err := a.Pipelines.GetFlow(r.Context(), grant(r).Project.ID, pipeID, id)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, viewFlow(f, true))
}

// putFlow saves a new version of the definition. Turning a flow on or off
// is not a save: it has its own routes.
func (a *API) putFlow(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Definition json.RawMessage `json:"definition"`
	}
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	pipeID, id := flowPath(r)
	f, err := a.Pipelines.SaveFlow(r.Context(), principal(r), grant(r), pipeID, id, in.Definition, client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, viewFlow(f, true))
}

func (a *API) deleteFlow(w http.ResponseWriter, r *http.Request) {
	pipeID, id := flowPath(r)
	if err := a.Pipelines.DeleteFlow(r.Context(), principal(r), grant(r), pipeID, id, client(r)); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) enableFlow(w http.ResponseWriter, r *http.Request)  { a.setFlowEnabled(w, r, true) }
func (a *API) disableFlow(w http.ResponseWriter, r *http.Request) { a.setFlowEnabled(w, r, false) }

func (a *API) setFlowEnabled(w http.ResponseWriter, r *http.Request, enabled bool) {
	pipeID, id := flowPath(r)
	f, err := a.Pipelines.SetFlowEnabled(r.Context(), principal(r), grant(r), pipeID, id, enabled, client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, viewFlow(f, true))
}

func (a *API) listFlowVersions(w http.ResponseWriter, r *http.Request) {
	pipeID, id := flowPath(r)
	vs, err := a.Pipelines.ListVersions(r.Context(), grant(r).Project.ID, pipeID, id)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out := make([]flowVersionView, 0, len(vs))
	for _, v := range vs {
		out = append(out, viewFlowVersion(v, false))
	}
	httpx.WriteJSON(w, http.StatusOK, list("versions", out))
}

// versionNumber is the {v} of a version route; anything but a positive
// number names no version.
func versionNumber(r *http.Request) (int, error) {
	v, err := strconv.Atoi(r.PathValue("v"))
	if err != nil || v < 1 || strconv.Itoa(v) != r.PathValue("v") {
		return 0, httpx.NotFound("no such version: versions are numbered from 1 (list them with GET .../versions)")
	}
	return v, nil
}

func (a *API) getFlowVersion(w http.ResponseWriter, r *http.Request) {
	n, err := versionNumber(r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	pipeID, id := flowPath(r)
	v, err := a.Pipelines.GetVersion(r.Context(), grant(r).Project.ID, pipeID, id, n)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, viewFlowVersion(v, true))
}

func (a *API) restoreFlowVersion(w http.ResponseWriter, r *http.Request) {
	n, err := versionNumber(r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	pipeID, id := flowPath(r)
	f, err := a.Pipelines.RestoreVersion(r.Context(), principal(r), grant(r), pipeID, id, n, client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, viewFlow(f, true))
}
