package store

import (
	"context"
	"fmt"
	"time"
)

// Grant gives one user or one group a role on a project. Exactly one of
// UserID and GroupID is set. The names are filled in by listings.
type Grant struct {
	ID        string
	ProjectID string
	UserID    string
	GroupID   string
	Role      string
	CreatedAt time.Time
	UpdatedAt time.Time
	// From listings: the user's email and name, or the group's name.
	Email, Name string
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// CreateGrant inserts g; a second grant to the same user or group on the
// same project is ErrConflict.
func (q *Q) CreateGrant(ctx context.Context, g *Grant) error {
	if g.ID == "" {
		g.ID = NewID()
	}
	now := q.Now()
	g.CreatedAt, g.UpdatedAt = now, now
	_, err := q.q.ExecContext(ctx, `INSERT INTO grants (id, project_id, user_id, group_id, role, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, g.ID, g.ProjectID, nullString(g.UserID), nullString(g.GroupID), g.Role, now, now)
	if isUniqueViolation(err) {
		return fmt.Errorf("store: create grant: already has access: %w", ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("store: create grant: %w", err)
	}
	return nil
}

const grantSelect = `SELECT g.id, g.project_id, COALESCE(g.user_id, ''), COALESCE(g.group_id, ''), g.role, g.created_at, g.updated_at,
	COALESCE(u.email, ''), COALESCE(u.name, gr.name, '')
	FROM grants g LEFT JOIN users u ON u.id = g.user_id LEFT JOIN user_groups gr ON gr.id = g.group_id`

func scanGrant(row interface{ Scan(...any) error }) (*Grant, error) {
	g := &Grant{}
	if err := row.Scan(&g.ID, &g.ProjectID, &g.UserID, &g.GroupID, &g.Role, &g.CreatedAt, &g.UpdatedAt, &g.Email, &g.Name); err != nil {
		return nil, err
	}
	g.CreatedAt, g.UpdatedAt = g.CreatedAt.UTC(), g.UpdatedAt.UTC()
	return g, nil
}

// GrantByID loads a grant of a project (scoped, so an ID from another
// project is not found).
func (q *Q) GrantByID(ctx context.Context, projectID, id string) (*Grant, error) {
	g, err := scanGrant(q.q.QueryRowContext(ctx, grantSelect+` WHERE g.project_id = $1 AND g.id = $2`, projectID, id))
	if err != nil {
		return nil, notFound(err, "grant")
	}
	return g, nil
}

// UserGrant loads a user's direct grant on a project.
func (q *Q) UserGrant(ctx context.Context, projectID, userID string) (*Grant, error) {
	g, err := scanGrant(q.q.QueryRowContext(ctx, grantSelect+` WHERE g.project_id = $1 AND g.user_id = $2`, projectID, userID))
	if err != nil {
		return nil, notFound(err, "grant")
	}
	return g, nil
}

// ListGrants lists a project's grants: users by email, then groups by name.
func (q *Q) ListGrants(ctx context.Context, projectID string) ([]*Grant, error) {
	rows, err := q.q.QueryContext(ctx, grantSelect+` WHERE g.project_id = $1
		ORDER BY CASE WHEN g.user_id IS NULL THEN 1 ELSE 0 END, COALESCE(u.email, gr.name), g.id`, projectID)
	if err != nil {
		return nil, fmt.Errorf("store: list grants: %w", err)
	}
	defer rows.Close()
	var out []*Grant
	for rows.Next() {
		g, err := scanGrant(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list grants: %w", err)
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// SetGrantRole switches the role of a grant of a project.
func (q *Q) SetGrantRole(ctx context.Context, projectID, id, role string) error {
	return q.execOne(ctx, "set grant role", `UPDATE grants SET role = $1, updated_at = $2 WHERE project_id = $3 AND id = $4`,
		role, q.Now(), projectID, id)
}

// DeleteGrant revokes a grant of a project.
func (q *Q) DeleteGrant(ctx context.Context, projectID, id string) error {
	return q.execOne(ctx, "delete grant", `DELETE FROM grants WHERE project_id = $1 AND id = $2`, projectID, id)
}

// GroupGrants lists the grants a group holds, on every project.
func (q *Q) GroupGrants(ctx context.Context, groupID string) ([]*Grant, error) {
	rows, err := q.q.QueryContext(ctx, grantSelect+` WHERE g.group_id = $1 ORDER BY g.project_id`, groupID)
	if err != nil {
		return nil, fmt.Errorf("store: list group grants: %w", err)
	}
	defer rows.Close()
	var out []*Grant
	for rows.Next() {
		g, err := scanGrant(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list group grants: %w", err)
		}
		out = append(out, g)
	}
	return out, rows.Err()
}
