package project

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/store"
)

// OwnerMemberID names the owner in member listings; the owner holds no
// grant, and their access cannot be changed through the members routes.
const OwnerMemberID = "owner"

// Members lists a project's grants (the owner is shown by the caller).
func (s *Service) Members(ctx context.Context, g *access.Grant) ([]*store.Grant, error) {
	return s.st.Reader().ListGrants(ctx, g.Project.ID)
}

// NewGrant is a grant to add: exactly one of UserID and GroupID.
type NewGrant struct {
	UserID, GroupID, Role string
}

func checkRole(role string) error {
	switch role {
	case store.RoleAdmin, store.RoleStandard:
		return nil
	case "owner":
		return &ValidationError{Problems: []Problem{{Field: "role", Message: "cannot be owner: a project has one owner; use POST /api/v1/projects/{p}/transfer"}}}
	case "":
		return &ValidationError{Problems: []Problem{{Field: "role", Message: "is required: admin or standard"}}}
	}
	return &ValidationError{Problems: []Problem{{Field: "role", Message: fmt.Sprintf("%q is not a role: use admin or standard", role)}}}
}

// Grant gives a user or a group a role on the project.
func (s *Service) Grant(ctx context.Context, p *account.Principal, g *access.Grant, ng NewGrant, c account.Client) (*store.Grant, error) {
	if err := checkRole(ng.Role); err != nil {
		return nil, err
	}
	if (ng.UserID == "") == (ng.GroupID == "") {
		return nil, &ValidationError{Problems: []Problem{{Field: "user_id", Message: "or group_id is required, not both: who gets access"}}}
	}
	var out *store.Grant
	err := s.st.InTx(ctx, func(q *store.Q) error {
		pr, _, err := recheck(ctx, q, g.Project.ID, p, access.ManageAccess)
		if err != nil {
			return err
		}
		detail := map[string]any{"role": ng.Role}
		target := ""
		if ng.UserID != "" {
			u, err := q.UserByID(ctx, ng.UserID)
			if errors.Is(err, store.ErrNotFound) {
				return &ValidationError{Problems: []Problem{{Field: "user_id", Message: "is not a user: grant by \"email\" instead, or ask an instance administrator for the ID"}}}
			}
			if err != nil {
				return err
			}
			if u.ID == pr.OwnerID {
				return ErrOwnerProtected
			}
			detail["email"], target = u.Email, "user:"+u.ID
		} else {
			gr, err := q.GroupByID(ctx, ng.GroupID)
			if errors.Is(err, store.ErrNotFound) {
				return &ValidationError{Problems: []Problem{{Field: "group_id", Message: "is not a group: see GET /api/v1/groups for IDs"}}}
			}
			if err != nil {
				return err
			}
			detail["group"], target = gr.Name, "group:"+gr.ID
		}
		gr := &store.Grant{ProjectID: pr.ID, UserID: ng.UserID, GroupID: ng.GroupID, Role: ng.Role}
		if err := q.CreateGrant(ctx, gr); errors.Is(err, store.ErrConflict) {
			return ErrAlreadyMember
		} else if err != nil {
			return err
		}
		detail["member_id"] = gr.ID
		if _, err := audit.Append(ctx, q, event(p, c, pr.ID, audit.ActionGrantAdd, target, detail)); err != nil {
			return err
		}
		out, err = q.GrantByID(ctx, pr.ID, gr.ID)
		return err
	})
	return out, err
}

// SetRole switches a member's role.
func (s *Service) SetRole(ctx context.Context, p *account.Principal, g *access.Grant, memberID, role string, c account.Client) (*store.Grant, error) {
	if memberID == OwnerMemberID {
		return nil, ErrOwnerProtected
	}
	if err := checkRole(role); err != nil {
		return nil, err
	}
	var out *store.Grant
	err := s.st.InTx(ctx, func(q *store.Q) error {
		if _, _, err := recheck(ctx, q, g.Project.ID, p, access.ManageAccess); err != nil {
			return err
		}
		gr, err := q.GrantByID(ctx, g.Project.ID, memberID)
		if err != nil {
			return err
		}
		if gr.Role != role {
			if err := q.SetGrantRole(ctx, g.Project.ID, gr.ID, role); err != nil {
				return err
			}
			if _, err := audit.Append(ctx, q, event(p, c, g.Project.ID, audit.ActionGrantRole, grantTarget(gr),
				map[string]any{"member_id": gr.ID, "role": map[string]string{"before": gr.Role, "after": role}})); err != nil {
				return err
			}
		}
		out, err = q.GrantByID(ctx, g.Project.ID, gr.ID)
		return err
	})
	return out, err
}

// Revoke removes a member's grant. What a group gave is gone for all its
// members on their next request.
func (s *Service) Revoke(ctx context.Context, p *account.Principal, g *access.Grant, memberID string, c account.Client) error {
	if memberID == OwnerMemberID {
		return ErrOwnerProtected
	}
	return s.st.InTx(ctx, func(q *store.Q) error {
		if _, _, err := recheck(ctx, q, g.Project.ID, p, access.ManageAccess); err != nil {
			return err
		}
		gr, err := q.GrantByID(ctx, g.Project.ID, memberID)
		if err != nil {
			return err
		}
		if err := q.DeleteGrant(ctx, g.Project.ID, gr.ID); err != nil {
			return err
		}
		_, err = audit.Append(ctx, q, event(p, c, g.Project.ID, audit.ActionGrantRevoke, grantTarget(gr),
			map[string]any{"member_id": gr.ID, "role": gr.Role}))
		return err
	})
}

func grantTarget(g *store.Grant) string {
	if g.UserID != "" {
		return "user:" + g.UserID
	}
	return "group:" + g.GroupID
}
