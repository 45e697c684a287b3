package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/project"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

// memberView is one entry of a project's members: the owner (id "owner")
// or a grant to a user or a group.
type memberView struct {
	ID        string     `json:"id"`
	Kind      string     `json:"kind"` // user | group
	UserID    string     `json:"user_id,omitempty"`
	GroupID   string     `json:"group_id,omitempty"`
	Email     string     `json:"email,omitempty"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	CreatedAt *time.Time `json:"created_at,omitempty"`
}

func viewMember(g *store.Grant) memberView {
	m := memberView{ID: g.ID, UserID: g.UserID, GroupID: g.GroupID, Email: g.Email, Name: g.Name, Role: g.Role, CreatedAt: &g.CreatedAt}
	m.Kind = "user"
	if g.GroupID != "" {
		m.Kind = "group"
	}
	return m
}

func (a *API) listMembers(w http.ResponseWriter, r *http.Request) {
	g := grant(r)
	owner, err := a.Store.Reader().UserByID(r.Context(), g.Project.OwnerID)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	grants, err := a.Projects.Members(r.Context(), g)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out := []memberView{{ID: project.OwnerMemberID, Kind: "user", UserID: owner.ID, Email: owner.Email, Name: owner.Name, Role: "owner"}}
	for _, gr := range grants {
		out = append(out, viewMember(gr))
	}
	httpx.WriteJSON(w, http.StatusOK, list("members", out))
}

func (a *API) addMember(w http.ResponseWriter, r *http.Request) {
	var in struct {
		UserID  string `json:"user_id"`
		GroupID string `json:"group_id"`
		// Email finds the user by address, for an owner who does not know
		// a colleague's ID.
		Email string `json:"email"`
		Role  string `json:"role"`
	}
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if in.Email != "" {
		if in.UserID != "" || in.GroupID != "" {
			httpx.WriteError(w, r, &project.ValidationError{Problems: []project.Problem{{Field: "email", Message: "cannot be sent with user_id or group_id: name the member once"}}})
			return
		}
		u, err := a.Store.Reader().UserByEmail(r.Context(), strings.ToLower(strings.TrimSpace(in.Email)))
		if errors.Is(err, store.ErrNotFound) {
			httpx.WriteError(w, r, &project.ValidationError{Problems: []project.Problem{{Field: "email", Message: "is not the email of a Sluice user: ask an instance administrator to create the account first"}}})
			return
		}
		if err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		in.UserID = u.ID
	}
	gr, err := a.Projects.Grant(r.Context(), principal(r), grant(r), project.NewGrant{UserID: in.UserID, GroupID: in.GroupID, Role: in.Role}, client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, viewMember(gr))
}

func (a *API) patchMember(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Role string `json:"role"`
	}
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	gr, err := a.Projects.SetRole(r.Context(), principal(r), grant(r), r.PathValue("m"), in.Role, client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, viewMember(gr))
}

func (a *API) deleteMember(w http.ResponseWriter, r *http.Request) {
	if err := a.Projects.Revoke(r.Context(), principal(r), grant(r), r.PathValue("m"), client(r)); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
