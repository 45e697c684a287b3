package account

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/store"
)

// Groups are managed by instance administrators. A group's grants reach
// its members on their next request: nothing about roles is cached.

func checkGroupName(name string) (string, error) {
	n := strings.TrimSpace(name)
	if n == "" || utf8.RuneCountInString(n) > 100 {
		return "", &InvalidInputError{Field: "name", Message: "is required and at most 100 characters, such as \"ERP team\""}
	}
	for _, r := range n {
		if r < 0x20 || r == 0x7f {
			return "", &InvalidInputError{Field: "name", Message: "must not contain control characters"}
		}
	}
	return n, nil
}

// groupEvent records a group change in the instance log and, when the
// change moves access (membership, deletion), in the log of every project
// the group holds a grant on, so a project's owners see who gained or lost
// access to it through a group. Call it before a deletion removes the
// group's grants.
func (s *Service) groupEvent(ctx context.Context, q *store.Q, p *Principal, c Client, action, groupID string, detail map[string]any) error {
	ev := audit.Event{ActorID: p.User.ID, ActorEmail: p.User.Email, IP: c.IP,
		Action: action, Target: "group:" + groupID, Outcome: audit.Success, Detail: detail}
	if _, err := audit.Append(ctx, q, ev); err != nil {
		return err
	}
	if action == audit.ActionGroupCreate || action == audit.ActionGroupRename {
		return nil
	}
	grants, err := q.GroupGrants(ctx, groupID)
	if err != nil {
		return err
	}
	for _, g := range grants {
		pe := ev
		pe.ProjectID = g.ProjectID
		pe.Detail = map[string]any{"group_role": g.Role, "member_id": g.ID}
		for k, v := range detail {
			pe.Detail[k] = v
		}
		if _, err := audit.Append(ctx, q, pe); err != nil {
			return err
		}
	}
	return nil
}

// CreateGroup makes a group.
func (s *Service) CreateGroup(ctx context.Context, p *Principal, name string, c Client) (*store.Group, error) {
	if !p.User.Admin {
		return nil, ErrForbidden
	}
	name, err := checkGroupName(name)
	if err != nil {
		return nil, err
	}
	g := &store.Group{Name: name}
	err = s.st.InTx(ctx, func(q *store.Q) error {
		if err := q.CreateGroup(ctx, g); err != nil {
			return err
		}
		return s.groupEvent(ctx, q, p, c, audit.ActionGroupCreate, g.ID, map[string]any{"name": name})
	})
	return g, err
}

// Groups lists every group (any user may see the names, to know what a
// project member entry refers to).
func (s *Service) Groups(ctx context.Context) ([]*store.Group, error) {
	return s.st.Reader().ListGroups(ctx)
}

// Group loads a group with its members.
func (s *Service) Group(ctx context.Context, id string) (*store.Group, []*store.GroupMember, error) {
	g, err := s.st.Reader().GroupByID(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	m, err := s.st.Reader().GroupMembers(ctx, id)
	return g, m, err
}

// RenameGroup renames a group.
func (s *Service) RenameGroup(ctx context.Context, p *Principal, id, name string, c Client) (*store.Group, error) {
	if !p.User.Admin {
		return nil, ErrForbidden
	}
	name, err := checkGroupName(name)
	if err != nil {
		return nil, err
	}
	var g *store.Group
	err = s.st.InTx(ctx, func(q *store.Q) error {
		if g, err = q.GroupByID(ctx, id); err != nil {
			return err
		}
		if g.Name == name {
			return nil
		}
		if err := q.RenameGroup(ctx, id, name); err != nil {
			return err
		}
		before := g.Name
		g.Name = name
		return s.groupEvent(ctx, q, p, c, audit.ActionGroupRename, id, map[string]any{"name": map[string]string{"before": before, "after": name}})
	})
	return g, err
}

// DeleteGroup removes a group; its members lose what its grants gave them.
func (s *Service) DeleteGroup(ctx context.Context, p *Principal, id string, c Client) error {
	if !p.User.Admin {
		return ErrForbidden
	}
	return s.st.InTx(ctx, func(q *store.Q) error {
		g, err := q.GroupByID(ctx, id)
		if err != nil {
			return err
		}
		if err := s.groupEvent(ctx, q, p, c, audit.ActionGroupDelete, id, map[string]any{"name": g.Name}); err != nil {
			return err
		}
		return q.DeleteGroup(ctx, id)
	})
}

// AddGroupMember puts a user in a group.
func (s *Service) AddGroupMember(ctx context.Context, p *Principal, groupID, userID string, c Client) error {
	if !p.User.Admin {
		return ErrForbidden
	}
	if userID == "" {
		return &InvalidInputError{Field: "user_id", Message: "is required: the ID of the user to add"}
	}
	return s.st.InTx(ctx, func(q *store.Q) error {
		g, err := q.GroupByID(ctx, groupID)
		if err != nil {
			return err
		}
		u, err := q.UserByID(ctx, userID)
		if errors.Is(err, store.ErrNotFound) {
			return &InvalidInputError{Field: "user_id", Message: "is not a user: see GET /api/v1/users for IDs"}
		}
		if err != nil {
			return err
		}
		if err := q.AddGroupMember(ctx, groupID, userID); err != nil {
			return err
		}
		return s.groupEvent(ctx, q, p, c, audit.ActionGroupMemberAdd, groupID, map[string]any{"group": g.Name, "user_id": u.ID, "email": u.Email})
	})
}

// RemoveGroupMember takes a user out of a group.
func (s *Service) RemoveGroupMember(ctx context.Context, p *Principal, groupID, userID string, c Client) error {
	if !p.User.Admin {
		return ErrForbidden
	}
	return s.st.InTx(ctx, func(q *store.Q) error {
		g, err := q.GroupByID(ctx, groupID)
		if err != nil {
			return err
		}
		if err := q.RemoveGroupMember(ctx, groupID, userID); err != nil {
			return err
		}
		return s.groupEvent(ctx, q, p, c, audit.ActionGroupMemberDrop, groupID, map[string]any{"group": g.Name, "user_id": userID})
	})
}
