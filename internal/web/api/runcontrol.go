package api

import (
	"errors"
	"net/http"

	"github.com/sluice-dev/sluice/internal/runs"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

// runControlError gives the runs layer's refusals their status: a request
// that does not fit the run's state is a 409, a reprocess the flow or the
// IDs given do not allow a 422 (listing each unknown entity ID).
func runControlError(err error) error {
	var se *runs.StateError
	var re *runs.ReprocessError
	switch {
	case errors.As(err, &se):
		return httpx.Conflict(se.Code, se.Message)
	case errors.As(err, &re):
		var details []httpx.Detail
		for _, id := range re.Unknown {
			details = append(details, httpx.Detail{Field: re.Field, Message: "not a failed record of this run: " + id})
		}
		if len(details) == 0 {
			details = []httpx.Detail{{Field: re.Field, Message: re.Message}}
		}
		return httpx.Unprocessable("not_reprocessable", re.Message, details...)
	}
	return err
}

// cancelRun cancels a queued or running run (409 when it has finished).
func (a *API) cancelRun(w http.ResponseWriter, r *http.Request) {
	run, err := a.Runs.CancelRun(r.Context(), principal(r), grant(r), r.PathValue("r"), client(r))
	if err != nil {
		httpx.WriteError(w, r, runControlError(err))
		return
	}
	httpx.WriteJSON(w, http.StatusOK, viewRun(run))
}

// reprocessBody names the entity IDs to reprocess; with no body, every
// failed record of the run not yet reprocessed is.
type reprocessBody struct {
	EntityIDs []string `json:"entity_ids"`
}

// reprocessRun queues a run that fetches failed records of a run again by
// their entity IDs (202 with the new run).
func (a *API) reprocessRun(w http.ResponseWriter, r *http.Request) {
	var ids []string
	if r.ContentLength != 0 {
		var b reprocessBody
		if err := httpx.DecodeJSON(w, r, &b); err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		if b.EntityIDs == nil {
			httpx.WriteError(w, r, httpx.Unprocessable("invalid_field", "entity_ids is missing: list the entity IDs to reprocess, or send no body to reprocess every failed record of the run",
				httpx.Detail{Field: "entity_ids", Message: "required when a body is sent"}))
			return
		}
		ids = b.EntityIDs
	}
	run, err := a.Runs.StartReprocess(r.Context(), principal(r), grant(r), r.PathValue("r"), ids, client(r))
	if err != nil {
		httpx.WriteError(w, r, runControlError(err))
		return
	}
	httpx.WriteJSON(w, http.StatusAccepted, viewRun(run))
}
