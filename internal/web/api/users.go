package api

import (
	"encoding/json"
	"net/http"
	"strconv"

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
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			httpx.WriteError(w, r, badQuery("before", "must be a positive event sequence number (the seq of the last event of the previous page)"))
			return
		}
		f.BeforeSeq = n
	}
	var err error
	if f.Since, f.Until, err = timeRange(q); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	limit, err := pageLimit(q, 500)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
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
		out["next"] = nextPage(path, q, "before", strconv.FormatInt(events[len(events)-1].Seq, 10))
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
