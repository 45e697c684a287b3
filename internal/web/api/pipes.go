package api

import (
	"net/http"
	"time"

	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

type pipeView struct {
	ID          string              `json:"id"`
	Name        string              `json:"name"`
	Description string              `json:"description"`
	ConsoleLog  pipeline.ConsoleLog `json:"console_log"`
	Enabled     bool                `json:"enabled"`
	CreatedAt   time.Time           `json:"created_at"`
	UpdatedAt   time.Time           `json:"updated_at"`
}

func viewPipe(p *pipeline.Pipe) pipeView {
	return pipeView{ID: p.Row.ID, Name: p.Row.Name, Description: p.Row.Description, ConsoleLog: p.ConsoleLog,
		Enabled: !p.Row.Paused, CreatedAt: p.Row.CreatedAt, UpdatedAt: p.Row.UpdatedAt}
}

// pipeBody is a create or change. console_log fields are each optional;
// changing any of them is project configuration (the service decides).
type pipeBody struct {
	Name        *string                   `json:"name"`
	Description *string                   `json:"description"`
	ConsoleLog  *pipeline.ConsoleLogPatch `json:"console_log"`
}

func (b pipeBody) input() pipeline.PipeInput {
	return pipeline.PipeInput{Name: b.Name, Description: b.Description, ConsoleLog: b.ConsoleLog}
}

func (a *API) listPipes(w http.ResponseWriter, r *http.Request) {
	ps, err := a.Pipelines.ListPipes(r.Context(), grant(r).Project.ID)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out := make([]pipeView, 0, len(ps))
	for _, p := range ps {
		out = append(out, viewPipe(p))
	}
	httpx.WriteJSON(w, http.StatusOK, list("pipes", out))
}

func (a *API) createPipe(w http.ResponseWriter, r *http.Request) {
	var in pipeBody
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	p, err := a.Pipelines.CreatePipe(r.Context(), principal(r), grant(r), in.input(), client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, viewPipe(p))
}

func (a *API) getPipe(w http.ResponseWriter, r *http.Request) {
	p, err := a.Pipelines.GetPipe(r.Context(), grant(r).Project.ID, r.PathValue("pipe"))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, viewPipe(p))
}

func (a *API) patchPipe(w http.ResponseWriter, r *http.Request) {
	var in pipeBody
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	p, err := a.Pipelines.UpdatePipe(r.Context(), principal(r), grant(r), r.PathValue("pipe"), in.input(), client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, viewPipe(p))
}

func (a *API) deletePipe(w http.ResponseWriter, r *http.Request) {
	if err := a.Pipelines.DeletePipe(r.Context(), principal(r), grant(r), r.PathValue("pipe"), client(r)); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) enablePipe(w http.ResponseWriter, r *http.Request)  { a.setPipeEnabled(w, r, true) }
func (a *API) disablePipe(w http.ResponseWriter, r *http.Request) { a.setPipeEnabled(w, r, false) }

func (a *API) setPipeEnabled(w http.ResponseWriter, r *http.Request, enabled bool) {
	p, err := a.Pipelines.SetPipeEnabled(r.Context(), principal(r), grant(r), r.PathValue("pipe"), enabled, client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, viewPipe(p))
}
