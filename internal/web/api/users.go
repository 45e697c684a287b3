package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) {
	users, err := a.Accounts.ListUsers(r.Context(), principal(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	views := make([]userView, 0, len(users))
	for _, u := range users {
		views = append(views, viewUser(u))
	}
	httpx.WriteJSON(w, http.StatusOK, list("users", views))
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
		Name     string `json:"name"`
		Admin    bool   `json:"admin"`
	}
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	u, err := a.Accounts.CreateUser(r.Context(), principal(r), account.NewUser{Email: in.Email, Password: in.Password,
		Name: in.Name, Admin: in.Admin}, client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, viewUser(u))
}

func (a *API) patchUser(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Disabled *bool `json:"disabled"`
	}
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if in.Disabled == nil {
		httpx.WriteError(w, r, httpx.Unprocessable("invalid_field", "nothing to change: send {\"disabled\": true} or {\"disabled\": false}",
			httpx.Detail{Field: "disabled", Message: "is required"}))
		return
	}
	u, err := a.Accounts.SetDisabled(r.Context(), principal(r), r.PathValue("id"), *in.Disabled, client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, viewUser(u))
}

func (a *API) listAudit(w http.ResponseWriter, r *http.Request) {
	a.writeAudit(w, r, "", "/api/v1/audit")
}

func (a *API) listProjectAudit(w http.ResponseWriter, r *http.Request) {
	id := grant(r).Project.ID
	a.writeAudit(w, r, id, "/api/v1/projects/"+id+"/audit")
}

// writeAudit answers a page of audit events, newest first, filtered by the
// query: actor (actor_id), action, a time range (since, until: RFC 3339)
// and paging (before: a sequence number; limit). projectID scopes it to
// one project ("" for the instance log).
func (a *API) writeAudit(w http.ResponseWriter, r *http.Request, projectID, path string) {
	q := r.URL.Query()
	f := store.AuditFilter{ActorID: q.Get("actor_id"), Action: q.Get("action"), ProjectID: projectID}
	if projectID == "" {
		f.ProjectID = q.Get("project_id")
	}
	bad := func(field, msg string) {
		httpx.WriteError(w, r, httpx.BadRequest("invalid_query", field+" "+msg, httpx.Detail{Field: field, Message: msg}))
	}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			bad("before", "must be a positive event sequence number (the seq of the last event of the previous page)")
			return
		}
		f.BeforeSeq = n
	}
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				bad(name, "must be an RFC 3339 time such as 2026-11-29T09:00:00Z")
				return
			}
			*dst = t.UTC()
		}
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			bad("limit", "must be between 1 and 500")
			return
		}
		limit = n
	}
	f.Limit = limit
	events, err := a.Store.Reader().ListAuditEvents(r.Context(), f)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	views := make([]auditView, 0, len(events))
	for _, e := range events {
		v := auditView{Seq: e.Seq, ID: e.ID, At: e.At, ActorID: e.ActorID, ActorEmail: e.ActorEmail, IP: e.IP,
			ProjectID: e.ProjectID, Action: e.Action, Target: e.Target, Outcome: e.Outcome, Hash: e.Hash}
		if e.Detail != "" && e.Detail != "{}" {
			v.Detail = json.RawMessage(e.Detail)
		}
		views = append(views, v)
	}
	out := list("events", views)
	if len(events) == limit {
		next := url.Values{}
		for k, vs := range q {
			next[k] = vs
		}
		next.Set("before", strconv.FormatInt(events[len(events)-1].Seq, 10))
		out["next"] = path + "?" + next.Encode()
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (a *API) verifyAudit(w http.ResponseWriter, r *http.Request) {
	rep, err := audit.Verify(r.Context(), a.Store.Reader())
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, rep)
}
