package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// AlertSecret is a project's sealed webhook signing secret.
type AlertSecret struct {
	ProjectID string
	// Sealed is the keyring ciphertext; Term the key term that sealed it.
	Sealed    string
	Term      int
	CreatedAt time.Time
}

// AlertSecretByProject loads a project's webhook secret (ErrNotFound:
// none is set).
func (q *Q) AlertSecretByProject(ctx context.Context, projectID string) (*AlertSecret, error) {
	s := &AlertSecret{}
	err := q.q.QueryRowContext(ctx, `SELECT project_id, webhook_secret, webhook_secret_term, created_at FROM project_alert_secrets WHERE project_id = $1`,
		projectID).Scan(&s.ProjectID, &s.Sealed, &s.Term, &s.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: alert secret: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: alert secret: %w", err)
	}
	s.CreatedAt = s.CreatedAt.UTC()
	return s, nil
}

// PutAlertSecret sets a project's webhook secret, replacing any.
func (q *Q) PutAlertSecret(ctx context.Context, s *AlertSecret) error {
	s.CreatedAt = q.Now()
	_, err := q.q.ExecContext(ctx, `INSERT INTO project_alert_secrets (project_id, webhook_secret, webhook_secret_term, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (project_id) DO UPDATE SET webhook_secret = excluded.webhook_secret, webhook_secret_term = excluded.webhook_secret_term, created_at = excluded.created_at`,
		s.ProjectID, s.Sealed, s.Term, s.CreatedAt)
	if err != nil {
		return fmt.Errorf("store: put alert secret: %w", err)
	}
	return nil
}

// DeleteAlertSecret removes a project's webhook secret; it reports
// whether there was one.
func (q *Q) DeleteAlertSecret(ctx context.Context, projectID string) (bool, error) {
	res, err := q.q.ExecContext(ctx, `DELETE FROM project_alert_secrets WHERE project_id = $1`, projectID)
	if err != nil {
		return false, fmt.Errorf("store: delete alert secret: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}
