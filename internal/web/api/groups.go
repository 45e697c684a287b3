package api

import (
	"net/http"
	"time"

	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

type groupView struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	// Members is left out of listings (nil) but shown, [] if empty, for
	// one group: omitzero, not omitempty, which would drop an empty list.
	Members []groupMemberView `json:"members,omitzero"`
}

type groupMemberView struct {
	UserID  string    `json:"user_id"`
	Email   string    `json:"email"`
	Name    string    `json:"name"`
	AddedAt time.Time `json:"added_at"`
}

func viewGroup(g *store.Group, members []*store.GroupMember) groupView {
	v := groupView{ID: g.ID, Name: g.Name, CreatedAt: g.CreatedAt}
	if members != nil {
		v.Members = make([]groupMemberView, 0, len(members))
		for _, m := range members {
			v.Members = append(v.Members, groupMemberView{UserID: m.UserID, Email: m.Email, Name: m.Name, AddedAt: m.AddedAt})
		}
	}
	return v
}

func (a *API) listGroups(w http.ResponseWriter, r *http.Request) {
	gs, err := a.Accounts.Groups(r.Context())
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out := make([]groupView, 0, len(gs))
	for _, g := range gs {
		out = append(out, viewGroup(g, nil))
	}
	httpx.WriteJSON(w, http.StatusOK, list("groups", out))
}

func (a *API) getGroup(w http.ResponseWriter, r *http.Request) {
	g, members, err := a.Accounts.Group(r.Context(), r.PathValue("id"))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if members == nil {
		members = []*store.GroupMember{}
	}
	httpx.WriteJSON(w, http.StatusOK, viewGroup(g, members))
}

type nameBody struct {
	Name string `json:"name"`
}

func (a *API) createGroup(w http.ResponseWriter, r *http.Request) {
	var in nameBody
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	g, err := a.Accounts.CreateGroup(r.Context(), principal(r), in.Name, client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, viewGroup(g, nil))
}

func (a *API) patchGroup(w http.ResponseWriter, r *http.Request) {
	var in nameBody
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	g, err := a.Accounts.RenameGroup(r.Context(), principal(r), r.PathValue("id"), in.Name, client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, viewGroup(g, nil))
}

func (a *API) deleteGroup(w http.ResponseWriter, r *http.Request) {
	if err := a.Accounts.DeleteGroup(r.Context(), principal(r), r.PathValue("id"), client(r)); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) addGroupMember(w http.ResponseWriter, r *http.Request) {
	var in struct {
		UserID string `json:"user_id"`
	}
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if err := a.Accounts.AddGroupMember(r.Context(), principal(r), r.PathValue("id"), in.UserID, client(r)); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	g, members, err := a.Accounts.Group(r.Context(), r.PathValue("id"))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, viewGroup(g, members))
}

func (a *API) removeGroupMember(w http.ResponseWriter, r *http.Request) {
	if err := a.Accounts.RemoveGroupMember(r.Context(), principal(r), r.PathValue("id"), r.PathValue("user"), client(r)); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
