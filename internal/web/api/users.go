package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) {
	entries, err := a.Accounts.UserEntries(r.Context(), principal(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	views := make([]userEntryView, 0, len(entries))
	for _, e := range entries {
		views = append(views, viewUserEntry(e))
	}
	httpx.WriteJSON(w, http.StatusOK, list("users", views))
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
		Name     string `json:"name"`
		Admin    bool   `json:"admin"`
		// Invite creates the account without a password and answers with
		// a link through which the colleague chooses one.
		Invite bool `json:"invite"`
	}
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if in.Invite {
		if in.Password != "" {
			httpx.WriteError(w, r, httpx.Unprocessable("invalid_field", "password must be left out with \"invite\": true: the colleague chooses it through the invitation link",
				httpx.Detail{Field: "password", Message: "must be left out when inviting"}))
			return
		}
		inv, err := a.Accounts.Invite(r.Context(), principal(r), account.NewInvite{Email: in.Email, Name: in.Name, Admin: in.Admin}, client(r))
		if err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		httpx.WriteJSON(w, http.StatusCreated, a.viewInvited(inv))
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

// newInvitation makes a fresh invitation link for a user who has not
// accepted theirs; the old link stops working.
func (a *API) newInvitation(w http.ResponseWriter, r *http.Request) {
	inv, err := a.Accounts.NewInvitation(r.Context(), principal(r), r.PathValue("id"), client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, a.viewInvited(inv))
}

// acceptInvitation sets an invited colleague's first password through
// their link and logs them in, answering like setup.
func (a *API) acceptInvitation(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Token    string `json:"token"`
		Password string `json:"password"`
		Name     string `json:"name"`
	}
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	res, err := a.Accounts.AcceptInvitation(r.Context(), account.AcceptRequest{Token: in.Token, Password: in.Password,
		Name: in.Name, Client: client(r)})
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	a.startSession(w, http.StatusOK, res)
}

// userEntryView is a user in the administrators' listing: with their
// status (active, invited, disabled) and, while invited, when the link
// expires.
type userEntryView struct {
	userView
	Status          string     `json:"status"`
	Invited         bool       `json:"invited"`
	InviteExpiresAt *time.Time `json:"invite_expires_at,omitempty"`
}

func viewUserEntry(e account.UserEntry) userEntryView {
	return userEntryView{userView: viewUser(e.User), Status: e.Status, Invited: account.Pending(e.User), InviteExpiresAt: e.InviteExpiresAt}
}

// invitedView is the one answer that carries an invitation link.
type invitedView struct {
	userEntryView
	InviteURL string `json:"invite_url"`
}

func (a *API) viewInvited(inv *account.Invited) invitedView {
	exp := inv.ExpiresAt
	e := account.UserEntry{User: inv.User, Status: account.StatusInvited, InviteExpiresAt: &exp}
	if inv.User.Disabled {
		e.Status = account.StatusDisabled
	}
	return invitedView{userEntryView: viewUserEntry(e), InviteURL: a.BaseURL() + account.InvitationPath(inv.Token)}
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
