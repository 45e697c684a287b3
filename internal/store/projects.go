package store

import (
	"context"
	"fmt"
	"time"
)

// Project is one customer integration space: its owner, plan and settings
// (a JSON document validated by package project).
type Project struct {
	ID        string
	Name      string
	OwnerID   string
	PlanID    string
	Settings  string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Roles as stored. The owner holds no grant: ownership is Project.OwnerID.
const (
	RoleAdmin    = "admin"
	RoleStandard = "standard"
)

const projectColumns = `id, name, owner_id, plan_id, settings, created_at, updated_at`

func (p *Project) dest() []any {
	return []any{&p.ID, &p.Name, &p.OwnerID, &p.PlanID, &p.Settings, &p.CreatedAt, &p.UpdatedAt}
}

func (p *Project) normalize() { p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC() }

// CreateProject inserts p, filling in its ID and times.
func (q *Q) CreateProject(ctx context.Context, p *Project) error {
	if p.ID == "" {
		p.ID = NewID()
	}
	now := q.Now()
	p.CreatedAt, p.UpdatedAt = now, now
	_, err := q.q.ExecContext(ctx, `INSERT INTO projects (`+projectColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		p.ID, p.Name, p.OwnerID, p.PlanID, p.Settings, p.CreatedAt, p.UpdatedAt)
	if err != nil {
		return fmt.Errorf("store: create project: %w", err)
	}
	return nil
}

// roleRank orders roles: the effective role is the highest a user has.
// 3 = owner, 2 = admin, 1 = standard, 0 = none.
const effectiveRoleSQL = `CASE WHEN p.owner_id = $%[1]d THEN 3 ELSE COALESCE((
	SELECT MAX(CASE g.role WHEN 'admin' THEN 2 WHEN 'standard' THEN 1 ELSE 0 END) FROM grants g
	WHERE g.project_id = p.id AND (g.user_id = $%[1]d OR g.group_id IN (SELECT m.group_id FROM group_members m WHERE m.user_id = $%[1]d))
), 0) END`

// Rank values returned by ProjectForUser and ListProjectsForUser.
const (
	RankNone     = 0
	RankStandard = 1
	RankAdmin    = 2
	RankOwner    = 3
)

// ProjectForUser loads a project with the user's effective role on it
// (the highest of ownership, their direct grant and their groups' grants),
// computed afresh on every call. A project the user has no role on is
// ErrNotFound, exactly like one that does not exist.
func (q *Q) ProjectForUser(ctx context.Context, projectID, userID string) (*Project, int, error) {
	p := &Project{}
	var rank int
	query := `SELECT ` + prefixed(projectColumns, "p") + `, ` + fmt.Sprintf(effectiveRoleSQL, 2) + ` FROM projects p WHERE p.id = $1`
	if err := q.q.QueryRowContext(ctx, query, projectID, userID).Scan(append(p.dest(), &rank)...); err != nil {
		return nil, 0, notFound(err, "project")
	}
	if rank == RankNone {
		return nil, 0, fmt.Errorf("store: project: %w", ErrNotFound)
	}
	p.normalize()
	return p, rank, nil
}

// ProjectWithRole is a project and the caller's role on it.
type ProjectWithRole struct {
	Project
	Rank int
}

// ListProjectsForUser lists the projects a user has any role on, by name.
func (q *Q) ListProjectsForUser(ctx context.Context, userID string) ([]*ProjectWithRole, error) {
	query := `SELECT * FROM (SELECT ` + prefixed(projectColumns, "p") + `, ` + fmt.Sprintf(effectiveRoleSQL, 1) +
		` AS rank FROM projects p) v WHERE v.rank > 0 ORDER BY v.name, v.id`
	rows, err := q.q.QueryContext(ctx, query, userID)
	if err != nil {
		return nil, fmt.Errorf("store: list projects: %w", err)
	}
	defer rows.Close()
	var out []*ProjectWithRole
	for rows.Next() {
		p := &ProjectWithRole{}
		if err := rows.Scan(append(p.dest(), &p.Rank)...); err != nil {
			return nil, fmt.Errorf("store: list projects: %w", err)
		}
		p.normalize()
		out = append(out, p)
	}
	return out, rows.Err()
}

// UpdateProject writes name, plan and settings.
func (q *Q) UpdateProject(ctx context.Context, p *Project) error {
	p.UpdatedAt = q.Now()
	return q.execOne(ctx, "update project", `UPDATE projects SET name = $1, plan_id = $2, settings = $3, updated_at = $4 WHERE id = $5`,
		p.Name, p.PlanID, p.Settings, p.UpdatedAt, p.ID)
}

// SetProjectOwner makes userID the owner.
func (q *Q) SetProjectOwner(ctx context.Context, projectID, userID string) error {
	return q.execOne(ctx, "set project owner", `UPDATE projects SET owner_id = $1, updated_at = $2 WHERE id = $3`, userID, q.Now(), projectID)
}

// DeleteProject removes a project and, through foreign keys, everything
// it holds. Audit events are kept: they name the project but do not
// reference it.
func (q *Q) DeleteProject(ctx context.Context, projectID string) error {
	return q.execOne(ctx, "delete project", `DELETE FROM projects WHERE id = $1`, projectID)
}

// ProjectByID loads a project without regard to who asks (for background
// work already authorised, such as a connection test's egress policy).
func (q *Q) ProjectByID(ctx context.Context, id string) (*Project, error) {
	p := &Project{}
	if err := q.q.QueryRowContext(ctx, `SELECT `+projectColumns+` FROM projects WHERE id = $1`, id).Scan(p.dest()...); err != nil {
		return nil, notFound(err, "project")
	}
	p.normalize()
	return p, nil
}
