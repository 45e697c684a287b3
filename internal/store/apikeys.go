package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// APIKey is a long-lived credential of a user, sent as a Bearer token. Only
// the SHA-256 of the token is stored; Prefix is its first characters, shown
// so a user can tell their keys apart.
type APIKey struct {
	ID         string
	UserID     string
	Name       string
	TokenHash  string
	Prefix     string
	CreatedAt  time.Time
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	LastUsedIP string
}

const apiKeyColumns = `id, user_id, name, token_hash, prefix, created_at, expires_at, last_used_at, last_used_ip`

func scanAPIKey(row interface{ Scan(...any) error }) (*APIKey, error) {
	k := &APIKey{}
	var exp, used sql.NullTime
	if err := row.Scan(&k.ID, &k.UserID, &k.Name, &k.TokenHash, &k.Prefix, &k.CreatedAt, &exp, &used, &k.LastUsedIP); err != nil {
		return nil, err
	}
	k.CreatedAt = k.CreatedAt.UTC()
	k.ExpiresAt, k.LastUsedAt = nullTime(exp), nullTime(used)
	return k, nil
}

// CreateAPIKey inserts k, filling in its ID and creation time.
func (q *Q) CreateAPIKey(ctx context.Context, k *APIKey) error {
	if k.ID == "" {
		k.ID = NewID()
	}
	k.CreatedAt = q.Now()
	_, err := q.q.ExecContext(ctx, `INSERT INTO api_keys (`+apiKeyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		k.ID, k.UserID, k.Name, k.TokenHash, k.Prefix, k.CreatedAt, k.ExpiresAt, k.LastUsedAt, k.LastUsedIP)
	if err != nil {
		return fmt.Errorf("store: create api key: %w", err)
	}
	return nil
}

// APIKeyByTokenHash loads the key a Bearer token names. Expiry is the
// caller's to check.
func (q *Q) APIKeyByTokenHash(ctx context.Context, hash string) (*APIKey, error) {
	k, err := scanAPIKey(q.q.QueryRowContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE token_hash = $1`, hash))
	if err != nil {
		return nil, notFound(err, "api key")
	}
	return k, nil
}

// ListAPIKeys lists a user's keys, newest first.
func (q *Q) ListAPIKeys(ctx context.Context, userID string) ([]*APIKey, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE user_id = $1 ORDER BY created_at DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("store: list api keys: %w", err)
	}
	defer rows.Close()
	var out []*APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list api keys: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// APIKeyByID loads one of a user's keys.
func (q *Q) APIKeyByID(ctx context.Context, userID, id string) (*APIKey, error) {
	k, err := scanAPIKey(q.q.QueryRowContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE id = $1 AND user_id = $2`, id, userID))
	if err != nil {
		return nil, notFound(err, "api key")
	}
	return k, nil
}

// DeleteAPIKey revokes one of a user's keys.
func (q *Q) DeleteAPIKey(ctx context.Context, userID, id string) error {
	return q.execOne(ctx, "delete api key", `DELETE FROM api_keys WHERE id = $1 AND user_id = $2`, id, userID)
}

// TouchAPIKey records the use of a key.
func (q *Q) TouchAPIKey(ctx context.Context, id string, at time.Time, ip string) error {
	_, err := q.q.ExecContext(ctx, `UPDATE api_keys SET last_used_at = $1, last_used_ip = $2 WHERE id = $3`, at, ip, id)
	if err != nil {
		return fmt.Errorf("store: touch api key: %w", err)
	}
	return nil
}
