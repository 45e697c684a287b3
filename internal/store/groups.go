package store

import (
	"context"
	"fmt"
	"time"
)

// Group is a named set of users that can be granted a role on a project.
type Group struct {
	ID        string
	Name      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// GroupMember is a user in a group.
type GroupMember struct {
	UserID  string
	Email   string
	Name    string
	AddedAt time.Time
}

const groupColumns = `id, name, created_at, updated_at`

func scanGroup(row interface{ Scan(...any) error }) (*Group, error) {
	g := &Group{}
	if err := row.Scan(&g.ID, &g.Name, &g.CreatedAt, &g.UpdatedAt); err != nil {
		return nil, err
	}
	g.CreatedAt, g.UpdatedAt = g.CreatedAt.UTC(), g.UpdatedAt.UTC()
	return g, nil
}

// CreateGroup inserts g; a taken name is ErrConflict.
func (q *Q) CreateGroup(ctx context.Context, g *Group) error {
	if g.ID == "" {
		g.ID = NewID()
	}
	now := q.Now()
	g.CreatedAt, g.UpdatedAt = now, now
	_, err := q.q.ExecContext(ctx, `INSERT INTO user_groups (`+groupColumns+`) VALUES ($1, $2, $3, $4)`, g.ID, g.Name, now, now)
	if isUniqueViolation(err) {
		return fmt.Errorf("store: create group: name %q is taken: %w", g.Name, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("store: create group: %w", err)
	}
	return nil
}

// GroupByID loads a group.
func (q *Q) GroupByID(ctx context.Context, id string) (*Group, error) {
	g, err := scanGroup(q.q.QueryRowContext(ctx, `SELECT `+groupColumns+` FROM user_groups WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "group")
	}
	return g, nil
}

// ListGroups lists every group by name.
func (q *Q) ListGroups(ctx context.Context) ([]*Group, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT `+groupColumns+` FROM user_groups ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: list groups: %w", err)
	}
	defer rows.Close()
	var out []*Group
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list groups: %w", err)
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// RenameGroup renames a group; a taken name is ErrConflict.
func (q *Q) RenameGroup(ctx context.Context, id, name string) error {
	err := q.execOne(ctx, "rename group", `UPDATE user_groups SET name = $1, updated_at = $2 WHERE id = $3`, name, q.Now(), id)
	if isUniqueViolation(err) {
		return fmt.Errorf("store: rename group: name %q is taken: %w", name, ErrConflict)
	}
	return err
}

// DeleteGroup removes a group, its memberships and its grants.
func (q *Q) DeleteGroup(ctx context.Context, id string) error {
	return q.execOne(ctx, "delete group", `DELETE FROM user_groups WHERE id = $1`, id)
}

// AddGroupMember puts a user in a group; already a member is ErrConflict.
func (q *Q) AddGroupMember(ctx context.Context, groupID, userID string) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO group_members (group_id, user_id, added_at) VALUES ($1, $2, $3)`, groupID, userID, q.Now())
	if isUniqueViolation(err) {
		return fmt.Errorf("store: add group member: already a member: %w", ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("store: add group member: %w", err)
	}
	return nil
}

// RemoveGroupMember takes a user out of a group.
func (q *Q) RemoveGroupMember(ctx context.Context, groupID, userID string) error {
	return q.execOne(ctx, "remove group member", `DELETE FROM group_members WHERE group_id = $1 AND user_id = $2`, groupID, userID)
}

// GroupMembers lists a group's members by email.
func (q *Q) GroupMembers(ctx context.Context, groupID string) ([]*GroupMember, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT u.id, u.email, u.name, m.added_at FROM group_members m
		JOIN users u ON u.id = m.user_id WHERE m.group_id = $1 ORDER BY u.email`, groupID)
	if err != nil {
		return nil, fmt.Errorf("store: list group members: %w", err)
	}
	defer rows.Close()
	var out []*GroupMember
	for rows.Next() {
		m := &GroupMember{}
		if err := rows.Scan(&m.UserID, &m.Email, &m.Name, &m.AddedAt); err != nil {
			return nil, fmt.Errorf("store: list group members: %w", err)
		}
		m.AddedAt = m.AddedAt.UTC()
		out = append(out, m)
	}
	return out, rows.Err()
}
