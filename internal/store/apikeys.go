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

// apiKeyRow holds a scanned api_keys row before its nullable times become
// pointers.
type apiKeyRow struct {
	k         APIKey
	exp, used sql.NullTime
}

func (r *apiKeyRow) dest() []any {
	return []any{&r.k.ID, &r.k.UserID, &r.k.Name, &r.k.TokenHash, &r.k.Prefix, &r.k.CreatedAt, &r.exp, &r.used, &r.k.LastUsedIP}
}

func (r *apiKeyRow) key() *APIKey {
	k := r.k
	k.CreatedAt = k.CreatedAt.UTC()
	k.ExpiresAt, k.LastUsedAt = nullTime(r.exp), nullTime(r.used)
	return &k
}

func scanAPIKey(row interface{ Scan(...any) error }) (*APIKey, error) {
	var r apiKeyRow
	if err := row.Scan(r.dest()...); err != nil {
		return nil, err
	}
	return r.key(), nil
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
