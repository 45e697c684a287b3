package store

import (
	"context"
	"fmt"
	"time"
)

// Consumer is a service consumer: an external system that calls a
// project's flows (DESIGN §3). Auth holds the plain auth settings (JSON);
// a JWT HS or HMAC secret is sealed in Secret (key term SecretTerm, bound
// to the row); a Basic secret is kept only as SecretHash. Flows and
// AllowedIPs are JSON arrays of strings.
type Consumer struct {
	ID          string
	ProjectID   string
	Name        string
	AuthType    string
	Auth        string
	Username    string
	Secret      string
	SecretTerm  int
	SecretHash  string
	Flows       string
	AllowedIPs  string
	RatePerSec  float64
	RateBurst   int
	FailedAuths int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

const consumerColumns = `id, project_id, name, auth_type, auth, username, secret, secret_term, secret_hash, flows,
	allowed_ips, rate_per_sec, rate_burst, failed_auths, created_at, updated_at`

func scanConsumer(row interface{ Scan(...any) error }) (*Consumer, error) {
	c := &Consumer{}
	if err := row.Scan(&c.ID, &c.ProjectID, &c.Name, &c.AuthType, &c.Auth, &c.Username, &c.Secret, &c.SecretTerm,
		&c.SecretHash, &c.Flows, &c.AllowedIPs, &c.RatePerSec, &c.RateBurst, &c.FailedAuths, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, nil
}

// CreateConsumer inserts c (its ID must be set: its sealed secret is bound
// to it). A name taken in the project is ErrConflict.
func (q *Q) CreateConsumer(ctx context.Context, c *Consumer) error {
	if c.ID == "" {
		return fmt.Errorf("store: create consumer: the ID must be chosen before sealing its secret")
	}
	now := q.Now()
	c.CreatedAt, c.UpdatedAt = now, now
	_, err := q.q.ExecContext(ctx, `INSERT INTO consumers (`+consumerColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		c.ID, c.ProjectID, c.Name, c.AuthType, c.Auth, c.Username, c.Secret, c.SecretTerm, c.SecretHash, c.Flows,
		c.AllowedIPs, c.RatePerSec, c.RateBurst, c.FailedAuths, c.CreatedAt, c.UpdatedAt)
	if isUniqueViolation(err) {
		return fmt.Errorf("store: create consumer: name %q is taken in this project: %w", c.Name, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("store: create consumer: %w", err)
	}
	return nil
}

// ConsumerByID loads a consumer of a project (an ID of another project is
// not found).
func (q *Q) ConsumerByID(ctx context.Context, projectID, id string) (*Consumer, error) {
	c, err := scanConsumer(q.q.QueryRowContext(ctx, `SELECT `+consumerColumns+` FROM consumers WHERE project_id = $1 AND id = $2`, projectID, id))
	if err != nil {
		return nil, notFound(err, "consumer")
	}
	return c, nil
}

// ConsumerByUsername loads a Basic consumer of a project by its username.
func (q *Q) ConsumerByUsername(ctx context.Context, projectID, username string) (*Consumer, error) {
	c, err := scanConsumer(q.q.QueryRowContext(ctx, `SELECT `+consumerColumns+` FROM consumers
		WHERE project_id = $1 AND username = $2 AND username <> ''`, projectID, username))
	if err != nil {
		return nil, notFound(err, "consumer")
	}
	return c, nil
}

// ListConsumers lists a project's consumers by name.
func (q *Q) ListConsumers(ctx context.Context, projectID string) ([]*Consumer, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT `+consumerColumns+` FROM consumers WHERE project_id = $1 ORDER BY name, id`, projectID)
	if err != nil {
		return nil, fmt.Errorf("store: list consumers: %w", err)
	}
	defer rows.Close()
	var out []*Consumer
	for rows.Next() {
		c, err := scanConsumer(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list consumers: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// UpdateConsumer writes everything but the failure counter.
func (q *Q) UpdateConsumer(ctx context.Context, c *Consumer) error {
	c.UpdatedAt = q.Now()
	err := q.execOne(ctx, "update consumer", `UPDATE consumers SET name = $1, auth_type = $2, auth = $3, username = $4,
		secret = $5, secret_term = $6, secret_hash = $7, flows = $8, allowed_ips = $9, rate_per_sec = $10, rate_burst = $11,
		updated_at = $12 WHERE project_id = $13 AND id = $14`,
		c.Name, c.AuthType, c.Auth, c.Username, c.Secret, c.SecretTerm, c.SecretHash, c.Flows, c.AllowedIPs,
		c.RatePerSec, c.RateBurst, c.UpdatedAt, c.ProjectID, c.ID)
	if isUniqueViolation(err) {
		return fmt.Errorf("store: update consumer: name %q is taken in this project: %w", c.Name, ErrConflict)
	}
	return err
}

// AddConsumerFailure counts one failed authentication of a consumer.
func (q *Q) AddConsumerFailure(ctx context.Context, projectID, id string) error {
	return q.execOne(ctx, "count consumer failure", `UPDATE consumers SET failed_auths = failed_auths + 1
		WHERE project_id = $1 AND id = $2`, projectID, id)
}

// DeleteConsumer removes a consumer and its secret.
func (q *Q) DeleteConsumer(ctx context.Context, projectID, id string) error {
	return q.execOne(ctx, "delete consumer", `DELETE FROM consumers WHERE project_id = $1 AND id = $2`, projectID, id)
}

// FlowsOfProject returns which of ids are flows of the project.
func (q *Q) FlowsOfProject(ctx context.Context, projectID string, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, id := range ids {
		var got string
		err := q.q.QueryRowContext(ctx, `SELECT id FROM flows WHERE project_id = $1 AND id = $2`, projectID, id).Scan(&got)
		if err == nil {
			out[id] = true
			continue
		}
		if e := notFound(err, "flow"); !isNotFound(e) {
			return nil, e
		}
	}
	return out, nil
}
