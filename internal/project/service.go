// Package project holds projects and who may work in them: creation,
// settings, plans, members (grants to users and groups), ownership
// transfer and deletion. Every change is written with its audit event in
// one transaction. Who may call what is decided before: by the access
// matrix, in the server's guard.
package project

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/store"
)

// Service runs project operations.
type Service struct {
	st       *store.Store
	accounts *account.Service
}

// NewService builds a Service.
func NewService(st *store.Store, accounts *account.Service) *Service {
	return &Service{st: st, accounts: accounts}
}

// View is a project with what its answers show.
type View struct {
	Project  *store.Project
	Settings Settings
	Plan     *store.Plan
	Owner    *store.User
	Role     access.Role
}

func checkProjectName(name string) (string, error) {
	n := strings.TrimSpace(name)
	if n == "" || utf8.RuneCountInString(n) > 100 || !utf8.ValidString(n) {
		return "", &ValidationError{Problems: []Problem{{Field: "name", Message: "is required: at most 100 characters, such as \"Shop ↔ ERP\""}}}
	}
	for _, r := range n {
		if r < 0x20 || r == 0x7f {
			return "", &ValidationError{Problems: []Problem{{Field: "name", Message: "must not contain control characters"}}}
		}
	}
	return n, nil
}

func event(p *account.Principal, c account.Client, projectID, action, target string, detail map[string]any) audit.Event {
	return audit.Event{ActorID: p.User.ID, ActorEmail: p.User.Email, IP: c.IP, ProjectID: projectID,
		Action: action, Target: target, Outcome: audit.Success, Detail: detail}
}

// Create makes a project owned by the caller, on the default plan with
// default settings.
func (s *Service) Create(ctx context.Context, p *account.Principal, name string, c account.Client) (*View, error) {
	name, err := checkProjectName(name)
	if err != nil {
		return nil, err
	}
	settings := DefaultSettings()
	raw, _ := json.Marshal(settings)
	var v *View
	err = s.st.InTx(ctx, func(q *store.Q) error {
		plan, err := q.DefaultPlan(ctx)
		if err != nil {
			return err
		}
		pr := &store.Project{Name: name, OwnerID: p.User.ID, PlanID: plan.ID, Settings: string(raw)}
		if err := q.CreateProject(ctx, pr); err != nil {
			return err
		}
		if _, err := audit.Append(ctx, q, event(p, c, pr.ID, audit.ActionProjectCreate, "project:"+pr.ID,
			map[string]any{"name": name, "plan": plan.ID})); err != nil {
			return err
		}
		v = &View{Project: pr, Settings: settings, Plan: plan, Owner: p.User, Role: access.Owner}
		return nil
	})
	return v, err
}

// List lists the projects the caller has a role on.
func (s *Service) List(ctx context.Context, p *account.Principal) ([]*store.ProjectWithRole, error) {
	return s.st.Reader().ListProjectsForUser(ctx, p.User.ID)
}

// Resolve loads a project with the caller's effective role, read afresh:
// no role is cached anywhere. No role is store.ErrNotFound, exactly as for
// a project that does not exist.
func (s *Service) Resolve(ctx context.Context, p *account.Principal, projectID string) (*access.Grant, error) {
	pr, rank, err := s.st.Reader().ProjectForUser(ctx, projectID, p.User.ID)
	if err != nil {
		return nil, err
	}
	return &access.Grant{Project: pr, Role: access.RoleFromRank(rank)}, nil
}

// Get builds the full view of a resolved project.
func (s *Service) Get(ctx context.Context, g *access.Grant) (*View, error) {
	q := s.st.Reader()
	settings, err := ParseSettings(g.Project.Settings)
	if err != nil {
		return nil, err
	}
	plan, err := q.PlanByID(ctx, g.Project.PlanID)
	if err != nil {
		return nil, err
	}
	owner, err := q.UserByID(ctx, g.Project.OwnerID)
	if err != nil {
		return nil, err
	}
	return &View{Project: g.Project, Settings: settings.normalized(), Plan: plan, Owner: owner, Role: g.Role}, nil
}

// Update is a change to a project; nil fields stay as they are.
type Update struct {
	Name     *string
	PlanID   *string
	Settings *SettingsPatch
}

// Update renames a project, moves it to another plan or changes its
// settings, all or nothing, recording each change with before and after.
func (s *Service) Update(ctx context.Context, p *account.Principal, g *access.Grant, u Update, c account.Client) (*View, error) {
	if u.Name == nil && u.PlanID == nil && u.Settings == nil {
		return nil, &ValidationError{Problems: []Problem{{Field: "", Message: "nothing to change: send name, plan_id or settings"}}}
	}
	var v *View
	err := s.st.InTx(ctx, func(q *store.Q) error {
		pr, role, err := recheck(ctx, q, g.Project.ID, p, access.ConfigureProject)
		if err != nil {
			return err
		}
		before, err := ParseSettings(pr.Settings)
		if err != nil {
			return err
		}
		var ps problems
		detail := map[string]any{}
		next := *pr
		if u.Name != nil {
			name, err := checkProjectName(*u.Name)
			if err != nil {
				ps = append(ps, err.(*ValidationError).Problems...)
			} else if name != pr.Name {
				detail["name"] = map[string]string{"before": pr.Name, "after": name}
				next.Name = name
			}
		}
		if u.PlanID != nil && *u.PlanID != pr.PlanID {
			if !p.User.Admin {
				return ErrPlanChange
			}
			if _, err := q.PlanByID(ctx, *u.PlanID); errors.Is(err, store.ErrNotFound) {
				ps.add("plan_id", fmt.Sprintf("%q is not a plan: list them with GET /api/v1/plans", *u.PlanID))
			} else if err != nil {
				return err
			} else {
				detail["plan_id"] = map[string]string{"before": pr.PlanID, "after": *u.PlanID}
				next.PlanID = *u.PlanID
			}
		}
		plan, err := q.PlanByID(ctx, next.PlanID)
		if err != nil {
			return err
		}
		after := before.Apply(u.Settings)
		if err := after.Validate(plan); err != nil {
			ps = append(ps, err.(*ValidationError).Problems...)
		}
		if err := ps.err(); err != nil {
			return err
		}
		for k, d := range Diff(before, after) {
			detail[k] = d
		}
		raw, _ := json.Marshal(after)
		next.Settings = string(raw)
		if len(detail) > 0 {
			if err := q.UpdateProject(ctx, &next); err != nil {
				return err
			}
			if _, err := audit.Append(ctx, q, event(p, c, pr.ID, audit.ActionProjectUpdate, "project:"+pr.ID, detail)); err != nil {
				return err
			}
		}
		owner, err := q.UserByID(ctx, next.OwnerID)
		if err != nil {
			return err
		}
		v = &View{Project: &next, Settings: after, Plan: plan, Owner: owner, Role: role}
		return nil
	})
	return v, err
}

// Transfer makes another member the owner; the previous owner becomes an
// administrator. The new owner must already have access.
func (s *Service) Transfer(ctx context.Context, p *account.Principal, g *access.Grant, userID string, c account.Client) (*View, error) {
	if userID == "" {
		return nil, &ValidationError{Problems: []Problem{{Field: "user_id", Message: "is required: the ID of a member who becomes the owner"}}}
	}
	if userID == g.Project.OwnerID {
		return nil, &ValidationError{Problems: []Problem{{Field: "user_id", Message: "is already the owner"}}}
	}
	err := s.st.InTx(ctx, func(q *store.Q) error {
		pr, _, err := recheck(ctx, q, g.Project.ID, p, access.OwnProject)
		if err != nil {
			return err
		}
		if userID == pr.OwnerID {
			return &ValidationError{Problems: []Problem{{Field: "user_id", Message: "is already the owner"}}}
		}
		target, err := q.UserByID(ctx, userID)
		if errors.Is(err, store.ErrNotFound) {
			return &ValidationError{Problems: []Problem{{Field: "user_id", Message: "is not a user"}}}
		}
		if err != nil {
			return err
		}
		if target.Disabled {
			return &ValidationError{Problems: []Problem{{Field: "user_id", Message: "is a disabled account: enable it first"}}}
		}
		if _, _, err := q.ProjectForUser(ctx, g.Project.ID, userID); errors.Is(err, store.ErrNotFound) {
			return ErrNoAccess
		} else if err != nil {
			return err
		}
		prev := pr.OwnerID
		if err := q.SetProjectOwner(ctx, g.Project.ID, userID); err != nil {
			return err
		}
		// The owner holds no grant; the previous owner keeps working as
		// an administrator.
		if old, err := q.UserGrant(ctx, g.Project.ID, userID); err == nil {
			if err := q.DeleteGrant(ctx, g.Project.ID, old.ID); err != nil {
				return err
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := q.CreateGrant(ctx, &store.Grant{ProjectID: g.Project.ID, UserID: prev, Role: store.RoleAdmin}); err != nil {
			return err
		}
		_, err = audit.Append(ctx, q, event(p, c, g.Project.ID, audit.ActionProjectTransfer, "project:"+g.Project.ID,
			map[string]any{"owner": map[string]string{"before": prev, "after": userID}, "new_owner_email": target.Email,
				"previous_owner_role": store.RoleAdmin}))
		return err
	})
	if err != nil {
		return nil, err
	}
	ng, err := s.Resolve(ctx, p, g.Project.ID)
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, ng)
}

// Delete removes the project and everything it holds, after the owner
// typed their password again. The audit events stay, with one for the
// deletion.
func (s *Service) Delete(ctx context.Context, p *account.Principal, g *access.Grant, password string, c account.Client) error {
	if password == "" {
		return &ValidationError{Problems: []Problem{{Field: "password", Message: "is required: type your password to confirm the deletion"}}}
	}
	if err := s.accounts.ConfirmPassword(ctx, p, password, audit.ActionProjectDelete, g.Project.ID, c); err != nil {
		return err
	}
	return s.st.InTx(ctx, func(q *store.Q) error {
		if _, _, err := recheck(ctx, q, g.Project.ID, p, access.OwnProject); err != nil {
			return err
		}
		if err := q.DeleteProject(ctx, g.Project.ID); err != nil {
			return err
		}
		_, err := audit.Append(ctx, q, event(p, c, g.Project.ID, audit.ActionProjectDelete, "project:"+g.Project.ID,
			map[string]any{"name": g.Project.Name}))
		return err
	})
}

// recheck re-reads the project and the caller's role inside q's
// transaction, after the caller took the lock that serialises access
// changes, and checks that the role still allows action. The guard read
// the role before the transaction began; a request that waited behind a
// transfer, a demotion or a revoked grant must not act on the role it no
// longer has. No role at all is store.ErrNotFound, as everywhere.
func recheck(ctx context.Context, q *store.Q, projectID string, p *account.Principal, action access.Action) (*store.Project, access.Role, error) {
	if err := q.LockAuditChain(ctx); err != nil {
		return nil, access.None, err
	}
	pr, rank, err := q.ProjectForUser(ctx, projectID, p.User.ID)
	if err != nil {
		return nil, access.None, err
	}
	role := access.RoleFromRank(rank)
	if !access.Can(role, action) {
		return nil, role, ErrRoleChanged
	}
	return pr, role, nil
}
