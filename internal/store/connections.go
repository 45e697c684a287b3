package store

import (
	"context"
	"fmt"
	"time"
)

// Connection is how a project reaches another system: plain settings and
// plain auth settings (JSON), and every secret sealed together by the
// keyring (Secrets, under key term SecretsTerm; "" when there are none).
type Connection struct {
	ID          string
	ProjectID   string
	Name        string
	Kind        string
	Settings    string
	Auth        string
	Secrets     string
	SecretsTerm int
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

const connectionColumns = `id, project_id, name, kind, settings, auth, secrets, secrets_term, created_at, updated_at`

func scanConnection(row interface{ Scan(...any) error }) (*Connection, error) {
	c := &Connection{}
	if err := row.Scan(&c.ID, &c.ProjectID, &c.Name, &c.Kind, &c.Settings, &c.Auth, &c.Secrets, &c.SecretsTerm,
		&c.CreatedAt, &c.UpdatedAt); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, nil
}

// CreateConnection inserts c (its ID must be set: the sealed secrets are
// bound to it). A name taken in the project is ErrConflict.
func (q *Q) CreateConnection(ctx context.Context, c *Connection) error {
	if c.ID == "" {
		return fmt.Errorf("store: create connection: the ID must be chosen before sealing its secrets")
	}
	now := q.Now()
	c.CreatedAt, c.UpdatedAt = now, now
	_, err := q.q.ExecContext(ctx, `INSERT INTO connections (`+connectionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		c.ID, c.ProjectID, c.Name, c.Kind, c.Settings, c.Auth, c.Secrets, c.SecretsTerm, c.CreatedAt, c.UpdatedAt)
	if isUniqueViolation(err) {
		return fmt.Errorf("store: create connection: name %q is taken in this project: %w", c.Name, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("store: create connection: %w", err)
	}
	return nil
}

// ConnectionByID loads a connection of a project (scoped: an ID of another
// project is not found).
func (q *Q) ConnectionByID(ctx context.Context, projectID, id string) (*Connection, error) {
	c, err := scanConnection(q.q.QueryRowContext(ctx, `SELECT `+connectionColumns+` FROM connections WHERE project_id = $1 AND id = $2`, projectID, id))
	if err != nil {
		return nil, notFound(err, "connection")
	}
	return c, nil
}

// ConnectionByName loads a connection of a project by name (flows name
// their connections).
func (q *Q) ConnectionByName(ctx context.Context, projectID, name string) (*Connection, error) {
	c, err := scanConnection(q.q.QueryRowContext(ctx, `SELECT `+connectionColumns+` FROM connections WHERE project_id = $1 AND name = $2`, projectID, name))
	if err != nil {
		return nil, notFound(err, "connection")
	}
	return c, nil
}

// ListConnections lists a project's connections by name.
func (q *Q) ListConnections(ctx context.Context, projectID string) ([]*Connection, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT `+connectionColumns+` FROM connections WHERE project_id = $1 ORDER BY name, id`, projectID)
	if err != nil {
		return nil, fmt.Errorf("store: list connections: %w", err)
	}
	defer rows.Close()
	var out []*Connection
	for rows.Next() {
		c, err := scanConnection(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list connections: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// UpdateConnection writes name, settings, auth and secrets.
func (q *Q) UpdateConnection(ctx context.Context, c *Connection) error {
	c.UpdatedAt = q.Now()
	err := q.execOne(ctx, "update connection", `UPDATE connections SET name = $1, settings = $2, auth = $3, secrets = $4,
		secrets_term = $5, updated_at = $6 WHERE project_id = $7 AND id = $8`,
		c.Name, c.Settings, c.Auth, c.Secrets, c.SecretsTerm, c.UpdatedAt, c.ProjectID, c.ID)
	if isUniqueViolation(err) {
		return fmt.Errorf("store: update connection: name %q is taken in this project: %w", c.Name, ErrConflict)
	}
	return err
}

// SetConnectionSecrets replaces only the sealed secrets (a rotated OAuth
// refresh token, a key rotation).
func (q *Q) SetConnectionSecrets(ctx context.Context, projectID, id, sealed string, term int) error {
	return q.execOne(ctx, "set connection secrets", `UPDATE connections SET secrets = $1, secrets_term = $2, updated_at = $3
		WHERE project_id = $4 AND id = $5`, sealed, term, q.Now(), projectID, id)
}

// DeleteConnection removes a connection and its sealed secrets.
func (q *Q) DeleteConnection(ctx context.Context, projectID, id string) error {
	return q.execOne(ctx, "delete connection", `DELETE FROM connections WHERE project_id = $1 AND id = $2`, projectID, id)
}
