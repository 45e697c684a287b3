package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/connection"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

// secretSet is how an answer shows a secret: whether it is set, never its
// value.
type secretSet struct {
	Set bool `json:"set"`
}

type connectionView struct {
	ID        string               `json:"id"`
	Name      string               `json:"name"`
	Kind      string               `json:"kind"`
	Settings  map[string]any       `json:"settings"`
	Auth      map[string]any       `json:"auth,omitempty"`
	Secrets   map[string]secretSet `json:"secrets"`
	Insecure  []string             `json:"insecure,omitempty"`
	CreatedAt time.Time            `json:"created_at"`
	UpdatedAt time.Time            `json:"updated_at"`
}

func viewConnection(c *connection.Connection) connectionView {
	v := connectionView{ID: c.Row.ID, Name: c.Row.Name, Kind: c.Row.Kind, Settings: c.Settings,
		Secrets: map[string]secretSet{}, CreatedAt: c.Row.CreatedAt, UpdatedAt: c.Row.UpdatedAt}
	set := map[string]bool{}
	for _, k := range c.SecretKeys {
		set[k] = true
	}
	for _, f := range connection.Kinds[c.Row.Kind].Secrets {
		v.Secrets[f.Name] = secretSet{Set: set["secrets."+f.Name]}
	}
	if c.Auth != nil {
		v.Auth = map[string]any{}
		for k, x := range c.Auth {
			v.Auth[k] = x
		}
		for _, k := range c.SecretKeys {
			if name, ok := strings.CutPrefix(k, "auth."); ok {
				v.Auth[name] = secretSet{Set: true}
			}
		}
	}
	v.Insecure = connection.Insecure(c)
	return v
}

// connectionBody is a create or change. Settings and auth stay raw maps so
// the field specs can name every unknown or wrong field with its path.
type connectionBody struct {
	Name     *string            `json:"name"`
	Kind     *string            `json:"kind"`
	Settings map[string]any     `json:"settings"`
	Secrets  map[string]*string `json:"secrets"`
	Auth     map[string]any     `json:"auth"`
}

func (b connectionBody) input() connection.Input {
	return connection.Input{Name: b.Name, Kind: b.Kind, Settings: b.Settings, Secrets: b.Secrets, Auth: b.Auth}
}

func (a *API) listConnections(w http.ResponseWriter, r *http.Request) {
	cs, err := a.Connections.List(r.Context(), grant(r).Project.ID)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out := make([]connectionView, 0, len(cs))
	for _, c := range cs {
		out = append(out, viewConnection(c))
	}
	httpx.WriteJSON(w, http.StatusOK, list("connections", out))
}

func (a *API) createConnection(w http.ResponseWriter, r *http.Request) {
	var in connectionBody
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	c, err := a.Connections.Create(r.Context(), principal(r), grant(r).Project.ID, in.input(), client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, viewConnection(c))
}

func (a *API) getConnection(w http.ResponseWriter, r *http.Request) {
	c, err := a.Connections.Get(r.Context(), grant(r).Project.ID, r.PathValue("c"))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, viewConnection(c))
}

func (a *API) patchConnection(w http.ResponseWriter, r *http.Request) {
	var in connectionBody
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	c, err := a.Connections.Update(r.Context(), principal(r), grant(r).Project.ID, r.PathValue("c"), in.input(), client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, viewConnection(c))
}

func (a *API) deleteConnection(w http.ResponseWriter, r *http.Request) {
	if err := a.Connections.Delete(r.Context(), principal(r), grant(r).Project.ID, r.PathValue("c"), client(r)); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) testConnection(w http.ResponseWriter, r *http.Request) {
	d, err := a.Connections.Test(r.Context(), grant(r).Project.ID, r.PathValue("c"))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, d)
}

// oauthCallbackPath is where authorization servers send users back.
const oauthCallbackPath = "/api/v1/oauth2/callback"

func (a *API) authorizeConnection(w http.ResponseWriter, r *http.Request) {
	link, expires, err := a.Connections.Authorize(r.Context(), principal(r), grant(r).Project.ID, r.PathValue("c"), a.BaseURL()+oauthCallbackPath)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"url": link, "expires_at": expires,
		"next": "open url in a browser logged in to Sluice as yourself and consent; the authorization server sends you back to " + oauthCallbackPath})
}

// oauthCallback finishes a consent. The user who started it must be the
// one coming back, and must still be allowed to manage the project's
// credentials.
func (a *API) oauthCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	st, err := a.Connections.FinishConsent(r.Context(), principal(r), a.Projects.Resolve,
		connection.Answer{State: q.Get("state"), Code: q.Get("code"), Error: q.Get("error"), ErrorDescription: q.Get("error_description")}, client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"ok": true, "project_id": st.ProjectID, "connection_id": st.ConnectionID,
		"message": "consent stored: the connection now refreshes its own tokens"})
}
