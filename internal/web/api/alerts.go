package api

import (
	"net/http"

	"github.com/sluice-dev/sluice/internal/runs"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

// getWebhookSecret says whether the project signs its alert webhooks,
// never with what.
func (a *API) getWebhookSecret(w http.ResponseWriter, r *http.Request) {
	st, err := a.Alerts.WebhookSecretStatus(r.Context(), grant(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out := map[string]any{"set": st.Set, "header": runs.HeaderSignature}
	if st.Set {
		out["created_at"] = st.CreatedAt
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// createWebhookSecret generates a new signing secret for the project's
// alert webhooks, replacing any; the answer is the only time it is shown.
func (a *API) createWebhookSecret(w http.ResponseWriter, r *http.Request) {
	secret, err := a.Alerts.NewWebhookSecret(r.Context(), principal(r), grant(r), client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, map[string]any{
		"secret": secret.Reveal(), "header": runs.HeaderSignature,
		"scheme": `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>`,
	})
}

// deleteWebhookSecret stops signing the project's alert webhooks.
func (a *API) deleteWebhookSecret(w http.ResponseWriter, r *http.Request) {
	if err := a.Alerts.DeleteWebhookSecret(r.Context(), principal(r), grant(r), client(r)); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
