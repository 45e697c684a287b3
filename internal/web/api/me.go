package api

import (
	"net/http"

	"github.com/sluice-dev/sluice/internal/web/httpx"
)

func (a *API) me(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	out := map[string]any{"user": viewUser(p.User)}
	switch {
	case p.Session != nil:
		out["auth"] = "session"
		out["session_id"] = p.Session.ID
		out["csrf_token"] = p.CSRFToken()
	case p.APIKey != nil:
		out["auth"] = "api_key"
		out["api_key_id"] = p.APIKey.ID
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (a *API) changePassword(w http.ResponseWriter, r *http.Request) {
	var in struct {
		CurrentPassword string `json:"current_password"`
		NewPassword     string `json:"new_password"`
	}
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if err := a.Accounts.ChangePassword(r.Context(), principal(r), in.CurrentPassword, in.NewPassword, client(r)); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) listSessions(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	sessions, err := a.Accounts.Sessions(r.Context(), p)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	current := ""
	if p.Session != nil {
		current = p.Session.ID
	}
	views := make([]sessionView, 0, len(sessions))
	for _, s := range sessions {
		views = append(views, viewSession(s, current))
	}
	httpx.WriteJSON(w, http.StatusOK, list("sessions", views))
}

func (a *API) revokeSession(w http.ResponseWriter, r *http.Request) {
	if err := a.Accounts.RevokeSession(r.Context(), principal(r), r.PathValue("id"), client(r)); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) revokeOtherSessions(w http.ResponseWriter, r *http.Request) {
	n, err := a.Accounts.RevokeOtherSessions(r.Context(), principal(r), client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]int64{"revoked": n})
}

func (a *API) listAPIKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := a.Accounts.APIKeys(r.Context(), principal(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	views := make([]apiKeyView, 0, len(keys))
	for _, k := range keys {
		views = append(views, viewAPIKey(k))
	}
	httpx.WriteJSON(w, http.StatusOK, list("api_keys", views))
}

func (a *API) createAPIKey(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name          string `json:"name"`
		ExpiresInDays *int   `json:"expires_in_days"`
	}
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if in.ExpiresInDays == nil {
		httpx.WriteError(w, r, httpx.Unprocessable("invalid_field", "expires_in_days is required: a number of days, or 0 for a key that never expires",
			httpx.Detail{Field: "expires_in_days", Message: "is required"}))
		return
	}
	k, err := a.Accounts.CreateAPIKey(r.Context(), principal(r), in.Name, *in.ExpiresInDays, client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, struct {
		apiKeyView
		Token string `json:"token"`
	}{viewAPIKey(k.Key), k.Token})
}

func (a *API) revokeAPIKey(w http.ResponseWriter, r *http.Request) {
	if err := a.Accounts.RevokeAPIKey(r.Context(), principal(r), r.PathValue("id"), client(r)); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type passwordBody struct {
	Password string `json:"password"`
}

func (a *API) beginTOTP(w http.ResponseWriter, r *http.Request) {
	var in passwordBody
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	e, err := a.Accounts.BeginTOTP(r.Context(), principal(r), in.Password, client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"secret": e.Secret, "otpauth_url": e.URL,
		"next": "scan the URL (or type the secret) into an authenticator app, then POST its current code to /api/v1/me/totp/confirm"})
}

func (a *API) confirmTOTP(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Code string `json:"code"`
	}
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	codes, err := a.Accounts.ConfirmTOTP(r.Context(), principal(r), in.Code, client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"recovery_codes": codes})
}

func (a *API) disableTOTP(w http.ResponseWriter, r *http.Request) {
	var in passwordBody
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if err := a.Accounts.DisableTOTP(r.Context(), principal(r), in.Password, client(r)); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) renewRecoveryCodes(w http.ResponseWriter, r *http.Request) {
	var in passwordBody
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	codes, err := a.Accounts.RenewRecoveryCodes(r.Context(), principal(r), in.Password, client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"recovery_codes": codes})
}
