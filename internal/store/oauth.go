package store

import (
	"context"
	"fmt"
	"time"
)

// OAuthState is a pending authorization-code consent.
type OAuthState struct {
	StateHash    string
	ConnectionID string
	ProjectID    string
	UserID       string
	Verifier     string // sealed
	RedirectURI  string
	CreatedAt    time.Time
	ExpiresAt    time.Time
}

// CreateOAuthState stores a pending consent.
func (q *Q) CreateOAuthState(ctx context.Context, s *OAuthState) error {
	s.CreatedAt = q.Now()
	_, err := q.q.ExecContext(ctx, `INSERT INTO oauth_states (state_hash, connection_id, project_id, user_id, verifier, redirect_uri, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, s.StateHash, s.ConnectionID, s.ProjectID, s.UserID, s.Verifier, s.RedirectURI, s.CreatedAt, s.ExpiresAt)
	if err != nil {
		return fmt.Errorf("store: create oauth state: %w", err)
	}
	return nil
}

// TakeOAuthState removes and returns the pending consent with this state
// hash, so a state works once. An unknown or expired state is ErrNotFound.
func (q *Q) TakeOAuthState(ctx context.Context, hash string) (*OAuthState, error) {
	s := &OAuthState{}
	err := q.q.QueryRowContext(ctx, `SELECT state_hash, connection_id, project_id, user_id, verifier, redirect_uri, created_at, expires_at
		FROM oauth_states WHERE state_hash = $1`, hash).Scan(&s.StateHash, &s.ConnectionID, &s.ProjectID, &s.UserID, &s.Verifier,
		&s.RedirectURI, &s.CreatedAt, &s.ExpiresAt)
	if err != nil {
		return nil, notFound(err, "oauth state")
	}
	if err := q.execOne(ctx, "take oauth state", `DELETE FROM oauth_states WHERE state_hash = $1`, hash); err != nil {
		return nil, err
	}
	s.CreatedAt, s.ExpiresAt = s.CreatedAt.UTC(), s.ExpiresAt.UTC()
	if !q.Now().Before(s.ExpiresAt) {
		return nil, fmt.Errorf("store: oauth state expired: %w", ErrNotFound)
	}
	return s, nil
}

// DeleteExpiredOAuthStates removes consents nobody finished.
func (q *Q) DeleteExpiredOAuthStates(ctx context.Context) (int64, error) {
	res, err := q.q.ExecContext(ctx, `DELETE FROM oauth_states WHERE expires_at <= $1`, q.Now())
	if err != nil {
		return 0, fmt.Errorf("store: delete expired oauth states: %w", err)
	}
	return res.RowsAffected()
}
