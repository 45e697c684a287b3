package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Invitation is a single-use link that lets an invited user set their
// first password. Only the SHA-256 of its token is stored (TokenHash,
// hex), so a copy of the database accepts no invitation.
type Invitation struct {
	ID        string
	UserID    string
	TokenHash string
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

const invitationColumns = `id, user_id, token_hash, created_by, created_at, expires_at, used_at`

func scanInvitation(row interface{ Scan(...any) error }) (*Invitation, error) {
	inv := &Invitation{}
	var used sql.NullTime
	if err := row.Scan(&inv.ID, &inv.UserID, &inv.TokenHash, &inv.CreatedBy, &inv.CreatedAt, &inv.ExpiresAt, &used); err != nil {
		return nil, err
	}
	inv.CreatedAt, inv.ExpiresAt, inv.UsedAt = inv.CreatedAt.UTC(), inv.ExpiresAt.UTC(), nullTime(used)
	return inv, nil
}

// ReplaceInvitation deletes the unused invitations of inv's user and
// inserts inv, filling in its ID: only the newest link of a user works.
func (q *Q) ReplaceInvitation(ctx context.Context, inv *Invitation) error {
	if inv.ID == "" {
		inv.ID = NewID()
	}
	if _, err := q.q.ExecContext(ctx, `DELETE FROM invitations WHERE user_id = $1 AND used_at IS NULL`, inv.UserID); err != nil {
		return fmt.Errorf("store: delete old invitations: %w", err)
	}
	_, err := q.q.ExecContext(ctx, `INSERT INTO invitations (`+invitationColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		inv.ID, inv.UserID, inv.TokenHash, inv.CreatedBy, inv.CreatedAt, inv.ExpiresAt, inv.UsedAt)
	if err != nil {
		return fmt.Errorf("store: create invitation: %w", err)
	}
	return nil
}

// InvitationByTokenHash loads the invitation with this token hash, used or
// not; ErrNotFound when there is none.
func (q *Q) InvitationByTokenHash(ctx context.Context, hash string) (*Invitation, error) {
	inv, err := scanInvitation(q.q.QueryRowContext(ctx, `SELECT `+invitationColumns+` FROM invitations WHERE token_hash = $1`, hash))
	if err != nil {
		return nil, notFound(err, "invitation by token")
	}
	return inv, nil
}

// UseInvitation marks an invitation used if it is still unused and
// unexpired at now, reporting whether it was. The conditional update makes
// a link single-use even when two acceptances race.
func (q *Q) UseInvitation(ctx context.Context, id string, now time.Time) (bool, error) {
	res, err := q.q.ExecContext(ctx, `UPDATE invitations SET used_at = $1 WHERE id = $2 AND used_at IS NULL AND expires_at > $1`, now, id)
	if err != nil {
		return false, fmt.Errorf("store: use invitation: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: use invitation: %w", err)
	}
	return n == 1, nil
}

// PendingInvitations maps each user with an unused invitation to the
// expiry of their newest one (expired ones included: the listing says so).
func (q *Q) PendingInvitations(ctx context.Context) (map[string]time.Time, error) {
	// The newest is found here, not with MAX: SQLite's aggregates lose the
	// column's time type.
	rows, err := q.q.QueryContext(ctx, `SELECT user_id, expires_at FROM invitations WHERE used_at IS NULL`)
	if err != nil {
		return nil, fmt.Errorf("store: pending invitations: %w", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var id string
		var exp time.Time
		if err := rows.Scan(&id, &exp); err != nil {
			return nil, fmt.Errorf("store: pending invitations: %w", err)
		}
		if exp.After(out[id]) {
			out[id] = exp.UTC()
		}
	}
	return out, rows.Err()
}

// SetInvitedPassword sets the first password of an invited user, and their
// name when name is not empty.
func (q *Q) SetInvitedPassword(ctx context.Context, userID, hash, name string) error {
	now := q.Now()
	if name != "" {
		return q.execOne(ctx, "set invited password", `UPDATE users SET password_hash = $1, name = $2, updated_at = $3, password_changed_at = $3 WHERE id = $4`, hash, name, now, userID)
	}
	return q.execOne(ctx, "set invited password", `UPDATE users SET password_hash = $1, updated_at = $2, password_changed_at = $2 WHERE id = $3`, hash, now, userID)
}
