package store

import (
	"context"
	"fmt"
	"time"
)

// Session is a server-side login. Only the SHA-256 of its cookie value is
// stored (TokenHash, hex), so a copy of the database logs nobody in.
type Session struct {
	ID                string
	TokenHash         string
	UserID            string
	CreatedAt         time.Time
	LastSeenAt        time.Time
	IdleExpiresAt     time.Time
	AbsoluteExpiresAt time.Time
	IP                string
	UserAgent         string
}

const sessionColumns = `id, token_hash, user_id, created_at, last_seen_at, idle_expires_at, absolute_expires_at, ip, user_agent`

// dest lists where each of sessionColumns is scanned to.
func (s *Session) dest() []any {
	return []any{&s.ID, &s.TokenHash, &s.UserID, &s.CreatedAt, &s.LastSeenAt, &s.IdleExpiresAt, &s.AbsoluteExpiresAt, &s.IP, &s.UserAgent}
}

func (s *Session) normalize() {
	s.CreatedAt, s.LastSeenAt = s.CreatedAt.UTC(), s.LastSeenAt.UTC()
	s.IdleExpiresAt, s.AbsoluteExpiresAt = s.IdleExpiresAt.UTC(), s.AbsoluteExpiresAt.UTC()
}

func scanSession(row interface{ Scan(...any) error }) (*Session, error) {
	s := &Session{}
	if err := row.Scan(s.dest()...); err != nil {
		return nil, err
	}
	s.normalize()
	return s, nil
}

// CreateSession inserts s, filling in its ID.
func (q *Q) CreateSession(ctx context.Context, s *Session) error {
	if s.ID == "" {
		s.ID = NewID()
	}
	_, err := q.q.ExecContext(ctx, `INSERT INTO sessions (`+sessionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		s.ID, s.TokenHash, s.UserID, s.CreatedAt, s.LastSeenAt, s.IdleExpiresAt, s.AbsoluteExpiresAt, s.IP, s.UserAgent)
	if err != nil {
		return fmt.Errorf("store: create session: %w", err)
	}
	return nil
}

// TouchSession records use of a session and slides its idle expiry, never
// past the absolute expiry.
func (q *Q) TouchSession(ctx context.Context, id string, seen, idleExpires time.Time) error {
	_, err := q.q.ExecContext(ctx, `UPDATE sessions SET last_seen_at = $1,
		idle_expires_at = CASE WHEN $2 < absolute_expires_at THEN $2 ELSE absolute_expires_at END WHERE id = $3`,
		seen, idleExpires, id)
	if err != nil {
		return fmt.Errorf("store: touch session: %w", err)
	}
	return nil
}

// ListSessions lists a user's sessions that have not expired, newest first.
func (q *Q) ListSessions(ctx context.Context, userID string) ([]*Session, error) {
	now := q.Now()
	rows, err := q.q.QueryContext(ctx, `SELECT `+sessionColumns+` FROM sessions
		WHERE user_id = $1 AND idle_expires_at > $2 AND absolute_expires_at > $2 ORDER BY created_at DESC`, userID, now)
	if err != nil {
		return nil, fmt.Errorf("store: list sessions: %w", err)
	}
	defer rows.Close()
	var out []*Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list sessions: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// DeleteSession removes one of a user's sessions (scoped by user, so one
// user cannot end another's).
func (q *Q) DeleteSession(ctx context.Context, userID, id string) error {
	return q.execOne(ctx, "delete session", `DELETE FROM sessions WHERE id = $1 AND user_id = $2`, id, userID)
}

// DeleteUserSessions ends every session of a user except keepID (which may
// be empty), returning how many ended.
func (q *Q) DeleteUserSessions(ctx context.Context, userID, keepID string) (int64, error) {
	res, err := q.q.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1 AND id <> $2`, userID, keepID)
	if err != nil {
		return 0, fmt.Errorf("store: delete user sessions: %w", err)
	}
	return res.RowsAffected()
}

// DeleteExpiredSessions removes sessions past either expiry.
func (q *Q) DeleteExpiredSessions(ctx context.Context) (int64, error) {
	now := q.Now()
	res, err := q.q.ExecContext(ctx, `DELETE FROM sessions WHERE idle_expires_at <= $1 OR absolute_expires_at <= $1`, now)
	if err != nil {
		return 0, fmt.Errorf("store: delete expired sessions: %w", err)
	}
	return res.RowsAffected()
}
