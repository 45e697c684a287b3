package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// NewID returns a new random, time-ordered ID (UUIDv7) for any row.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// User is an account. PasswordHash and the TOTP secrets never leave the
// server: the API answers with UserView. The TOTP secrets are stored
// sealed by the keyring (or, from before it existed, plain until the next
// key rotation): the account service opens them.
type User struct {
	ID                string
	Email             string
	Name              string
	PasswordHash      string
	Admin             bool
	Disabled          bool
	TOTPSecret        string
	TOTPPendingSecret string
	TOTPEnabled       bool
	TOTPLastStep      int64
	CreatedAt         time.Time
	UpdatedAt         time.Time
	PasswordChangedAt time.Time
}

const userColumns = `id, email, name, password_hash, is_admin, disabled, totp_secret, totp_pending_secret,
	totp_enabled, totp_last_step, created_at, updated_at, password_changed_at`

// dest lists where each of userColumns is scanned to.
func (u *User) dest() []any {
	return []any{&u.ID, &u.Email, &u.Name, &u.PasswordHash, &u.Admin, &u.Disabled, &u.TOTPSecret,
		&u.TOTPPendingSecret, &u.TOTPEnabled, &u.TOTPLastStep, &u.CreatedAt, &u.UpdatedAt, &u.PasswordChangedAt}
}

func (u *User) normalize() {
	u.CreatedAt, u.UpdatedAt, u.PasswordChangedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC(), u.PasswordChangedAt.UTC()
}

func scanUser(row interface{ Scan(...any) error }) (*User, error) {
	u := &User{}
	if err := row.Scan(u.dest()...); err != nil {
		return nil, err
	}
	u.normalize()
	return u, nil
}

// CreateUser inserts u, filling in its ID and times. An email already in
// use is ErrConflict. The caller lowercases and validates the email.
func (q *Q) CreateUser(ctx context.Context, u *User) error {
	if u.ID == "" {
		u.ID = NewID()
	}
	now := q.Now()
	u.CreatedAt, u.UpdatedAt, u.PasswordChangedAt = now, now, now
	_, err := q.q.ExecContext(ctx, `INSERT INTO users (`+userColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		u.ID, u.Email, u.Name, u.PasswordHash, u.Admin, u.Disabled, u.TOTPSecret, u.TOTPPendingSecret,
		u.TOTPEnabled, u.TOTPLastStep, u.CreatedAt, u.UpdatedAt, u.PasswordChangedAt)
	if isUniqueViolation(err) {
		return fmt.Errorf("store: create user: email already in use: %w", ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("store: create user: %w", err)
	}
	return nil
}

// UserByID loads one user.
func (q *Q) UserByID(ctx context.Context, id string) (*User, error) {
	u, err := scanUser(q.q.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "user by id")
	}
	return u, nil
}

// UserByEmail loads one user by (lowercased) email.
func (q *Q) UserByEmail(ctx context.Context, email string) (*User, error) {
	u, err := scanUser(q.q.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = $1`, email))
	if err != nil {
		return nil, notFound(err, "user by email")
	}
	return u, nil
}

// ListUsers lists every user by email.
func (q *Q) ListUsers(ctx context.Context) ([]*User, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY email`)
	if err != nil {
		return nil, fmt.Errorf("store: list users: %w", err)
	}
	defer rows.Close()
	var out []*User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list users: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// CountUsers counts accounts; setup is open only while it is 0.
func (q *Q) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := q.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count users: %w", err)
	}
	return n, nil
}

// CountActiveAdmins counts instance admins who are not disabled, so the
// last one cannot be disabled.
func (q *Q) CountActiveAdmins(ctx context.Context) (int, error) {
	var n int
	if err := q.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE is_admin AND NOT disabled`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count admins: %w", err)
	}
	return n, nil
}

func (q *Q) execOne(ctx context.Context, what, query string, args ...any) error {
	res, err := q.q.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("store: %s: %w", what, ErrNotFound)
	}
	return nil
}

// SetPasswordHash replaces a user's password hash. changed says whether the
// password itself changed (not only its parameters, on a rehash at login).
func (q *Q) SetPasswordHash(ctx context.Context, userID, hash string, changed bool) error {
	now := q.Now()
	if changed {
		return q.execOne(ctx, "set password", `UPDATE users SET password_hash = $1, updated_at = $2, password_changed_at = $2 WHERE id = $3`, hash, now, userID)
	}
	return q.execOne(ctx, "rehash password", `UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3`, hash, now, userID)
}

// SetUserDisabled disables or enables an account.
func (q *Q) SetUserDisabled(ctx context.Context, userID string, disabled bool) error {
	return q.execOne(ctx, "set user disabled", `UPDATE users SET disabled = $1, updated_at = $2 WHERE id = $3`, disabled, q.Now(), userID)
}

// SetUserName renames a user.
func (q *Q) SetUserName(ctx context.Context, userID, name string) error {
	return q.execOne(ctx, "set user name", `UPDATE users SET name = $1, updated_at = $2 WHERE id = $3`, name, q.Now(), userID)
}

// SetTOTPPending stores a secret the user has been shown but not yet
// confirmed with a code, sealed by the caller under the keyring term term
// (recorded in totp_term for key rotation).
func (q *Q) SetTOTPPending(ctx context.Context, userID, sealedSecret string, term int) error {
	return q.execOne(ctx, "set pending totp", `UPDATE users SET totp_pending_secret = $1, totp_term = $2, updated_at = $3 WHERE id = $4`,
		sealedSecret, term, q.Now(), userID)
}

// EnableTOTP makes the pending secret the active one: sealedSecret is it,
// sealed again by the caller for the totp_secret column under term.
func (q *Q) EnableTOTP(ctx context.Context, userID, sealedSecret string, term int, step int64) error {
	return q.execOne(ctx, "enable totp", `UPDATE users SET totp_secret = $1, totp_pending_secret = '', totp_enabled = $2,
		totp_last_step = $3, totp_term = $4, updated_at = $5 WHERE id = $6`, sealedSecret, true, step, term, q.Now(), userID)
}

// DisableTOTP turns two-factor login off and forgets the secret and the
// recovery codes.
func (q *Q) DisableTOTP(ctx context.Context, userID string) error {
	if err := q.execOne(ctx, "disable totp", `UPDATE users SET totp_secret = '', totp_pending_secret = '', totp_enabled = $1,
		totp_last_step = 0, totp_term = 0, updated_at = $2 WHERE id = $3`, false, q.Now(), userID); err != nil {
		return err
	}
	_, err := q.q.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID)
	if err != nil {
		return fmt.Errorf("store: delete recovery codes: %w", err)
	}
	return nil
}

// UseTOTPStep records the time step of an accepted code, refusing a step
// at or before the last one used, so a code cannot be replayed even by two
// requests racing. It reports whether the step was accepted.
func (q *Q) UseTOTPStep(ctx context.Context, userID string, step int64) (bool, error) {
	res, err := q.q.ExecContext(ctx, `UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1`, step, userID)
	if err != nil {
		return false, fmt.Errorf("store: use totp step: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ReplaceRecoveryCodes stores a fresh set of recovery-code hashes,
// invalidating the previous set.
func (q *Q) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string) error {
	if _, err := q.q.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
		return fmt.Errorf("store: replace recovery codes: %w", err)
	}
	for _, h := range hashes {
		if _, err := q.q.ExecContext(ctx, `INSERT INTO recovery_codes (id, user_id, code_hash) VALUES ($1, $2, $3)`, NewID(), userID, h); err != nil {
			return fmt.Errorf("store: insert recovery code: %w", err)
		}
	}
	return nil
}

// UseRecoveryCode marks an unused code with this hash as used, reporting
// whether there was one. Each code works once.
func (q *Q) UseRecoveryCode(ctx context.Context, userID, hash string) (bool, error) {
	res, err := q.q.ExecContext(ctx, `UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL`, q.Now(), userID, hash)
	if err != nil {
		return false, fmt.Errorf("store: use recovery code: %w", err)
	}
	n, err := res.RowsAffected()
	return n >= 1, err
}

// CountRecoveryCodes counts the unused recovery codes of a user.
func (q *Q) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	var n int
	err := q.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL`, userID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: count recovery codes: %w", err)
	}
	return n, nil
}

// Setting reads an instance setting; a missing key is ErrNotFound.
func (q *Q) Setting(ctx context.Context, key string) (string, error) {
	var v string
	if err := q.q.QueryRowContext(ctx, `SELECT value FROM instance_settings WHERE key = $1`, key).Scan(&v); err != nil {
		return "", notFound(err, "setting "+key)
	}
	return v, nil
}

// SetSetting writes an instance setting.
func (q *Q) SetSetting(ctx context.Context, key, value string) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO instance_settings (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	if err != nil {
		return fmt.Errorf("store: set setting %s: %w", key, err)
	}
	return nil
}

// DeleteSetting removes an instance setting.
func (q *Q) DeleteSetting(ctx context.Context, key string) error {
	_, err := q.q.ExecContext(ctx, `DELETE FROM instance_settings WHERE key = $1`, key)
	if err != nil {
		return fmt.Errorf("store: delete setting %s: %w", key, err)
	}
	return nil
}

// nullTime turns a nullable column into a *time.Time.
func nullTime(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	v := t.Time.UTC()
	return &v
}
