package api

import (
	"net/http"
	"time"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/project"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

type planView struct {
	ID                      string `json:"id"`
	Name                    string `json:"name"`
	RunLogRetentionDays     int    `json:"run_log_retention_days"`
	ConsoleLogRetentionDays int    `json:"console_log_retention_days"`
	AuditRetentionDays      int    `json:"audit_retention_days"`
	Default                 bool   `json:"default"`
}

func viewPlan(p *store.Plan) planView {
	return planView{ID: p.ID, Name: p.Name, RunLogRetentionDays: p.RunLogRetentionDays,
		ConsoleLogRetentionDays: p.ConsoleLogRetentionDays, AuditRetentionDays: p.AuditRetentionDays, Default: p.Default}
}

type personView struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

type projectView struct {
	ID        string           `json:"id"`
	Name      string           `json:"name"`
	Role      string           `json:"role"`
	Owner     personView       `json:"owner"`
	Plan      planView         `json:"plan"`
	Settings  project.Settings `json:"settings"`
	CreatedAt time.Time        `json:"created_at"`
	UpdatedAt time.Time        `json:"updated_at"`
}

func viewProject(v *project.View) projectView {
	return projectView{ID: v.Project.ID, Name: v.Project.Name, Role: v.Role.String(),
		Owner: personView{ID: v.Owner.ID, Email: v.Owner.Email, Name: v.Owner.Name},
		Plan:  viewPlan(v.Plan), Settings: v.Settings, CreatedAt: v.Project.CreatedAt, UpdatedAt: v.Project.UpdatedAt}
}

// grant is the project and role the guard resolved for a project route.
func grant(r *http.Request) *access.Grant { return access.GrantFrom(r.Context()) }

func (a *API) createProject(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name string `json:"name"`
	}
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	v, err := a.Projects.Create(r.Context(), principal(r), in.Name, client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, viewProject(v))
}

func (a *API) listProjects(w http.ResponseWriter, r *http.Request) {
	ps, err := a.Projects.List(r.Context(), principal(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	type item struct {
		ID        string    `json:"id"`
		Name      string    `json:"name"`
		Role      string    `json:"role"`
		OwnerID   string    `json:"owner_id"`
		PlanID    string    `json:"plan_id"`
		CreatedAt time.Time `json:"created_at"`
	}
	out := make([]item, 0, len(ps))
	for _, p := range ps {
		out = append(out, item{ID: p.ID, Name: p.Name, Role: access.RoleFromRank(p.Rank).String(), OwnerID: p.OwnerID,
			PlanID: p.PlanID, CreatedAt: p.CreatedAt})
	}
	httpx.WriteJSON(w, http.StatusOK, list("projects", out))
}

func (a *API) getProject(w http.ResponseWriter, r *http.Request) {
	v, err := a.Projects.Get(r.Context(), grant(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, viewProject(v))
}

func (a *API) patchProject(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name     *string                `json:"name"`
		PlanID   *string                `json:"plan_id"`
		Settings *project.SettingsPatch `json:"settings"`
	}
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	v, err := a.Projects.Update(r.Context(), principal(r), grant(r), project.Update{Name: in.Name, PlanID: in.PlanID, Settings: in.Settings}, client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, viewProject(v))
}

func (a *API) deleteProject(w http.ResponseWriter, r *http.Request) {
	var in passwordBody
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if err := a.Projects.Delete(r.Context(), principal(r), grant(r), in.Password, client(r)); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) transferProject(w http.ResponseWriter, r *http.Request) {
	var in struct {
		UserID string `json:"user_id"`
	}
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	v, err := a.Projects.Transfer(r.Context(), principal(r), grant(r), in.UserID, client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, viewProject(v))
}

func (a *API) listPlans(w http.ResponseWriter, r *http.Request) {
	plans, err := a.Store.Reader().ListPlans(r.Context())
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out := make([]planView, 0, len(plans))
	for _, p := range plans {
		out = append(out, viewPlan(p))
	}
	httpx.WriteJSON(w, http.StatusOK, list("plans", out))
}
