package store

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// KeyringTerm is one data key of the keyring, sealed under the master key.
type KeyringTerm struct {
	Term      int
	SealedKey string
	CreatedAt time.Time
}

// KeyringTerms lists every term, oldest first.
func (q *Q) KeyringTerms(ctx context.Context) ([]KeyringTerm, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT term, sealed_key, created_at FROM keyring_terms ORDER BY term`)
	if err != nil {
		return nil, fmt.Errorf("store: list keyring terms: %w", err)
	}
	defer rows.Close()
	var out []KeyringTerm
	for rows.Next() {
		var t KeyringTerm
		if err := rows.Scan(&t.Term, &t.SealedKey, &t.CreatedAt); err != nil {
			return nil, fmt.Errorf("store: list keyring terms: %w", err)
		}
		t.CreatedAt = t.CreatedAt.UTC()
		out = append(out, t)
	}
	return out, rows.Err()
}

// MaxKeyringTerm is the newest term (0 when the keyring is empty).
func (q *Q) MaxKeyringTerm(ctx context.Context) (int, error) {
	var n int
	if err := q.q.QueryRowContext(ctx, `SELECT COALESCE(MAX(term), 0) FROM keyring_terms`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: newest keyring term: %w", err)
	}
	return n, nil
}

// InsertKeyringTerm adds a term; a term that exists already (another node
// created it first) is ErrConflict.
func (q *Q) InsertKeyringTerm(ctx context.Context, t *KeyringTerm) error {
	t.CreatedAt = q.Now()
	_, err := q.q.ExecContext(ctx, `INSERT INTO keyring_terms (term, sealed_key, created_at) VALUES ($1, $2, $3)`,
		t.Term, t.SealedKey, t.CreatedAt)
	if isUniqueViolation(err) {
		return fmt.Errorf("store: keyring term %d exists already: %w", t.Term, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("store: insert keyring term %d: %w", t.Term, err)
	}
	return nil
}

// KeyRotation is the re-encryption of every stored secret under a new
// term; Progress is its JSON checkpoint.
type KeyRotation struct {
	Term       int
	StartedAt  time.Time
	FinishedAt *time.Time
	Progress   string
}

const keyRotationColumns = `term, started_at, finished_at, progress`

func scanKeyRotation(row interface{ Scan(...any) error }) (*KeyRotation, error) {
	r := &KeyRotation{}
	var fin sql.NullTime
	if err := row.Scan(&r.Term, &r.StartedAt, &fin, &r.Progress); err != nil {
		return nil, err
	}
	r.StartedAt, r.FinishedAt = r.StartedAt.UTC(), nullTime(fin)
	return r, nil
}

// InsertKeyRotation records the start of a rotation to term.
func (q *Q) InsertKeyRotation(ctx context.Context, term int) (*KeyRotation, error) {
	r := &KeyRotation{Term: term, StartedAt: q.Now(), Progress: "{}"}
	_, err := q.q.ExecContext(ctx, `INSERT INTO keyring_rotations (term, started_at, progress) VALUES ($1, $2, $3)`,
		r.Term, r.StartedAt, r.Progress)
	if isUniqueViolation(err) {
		return nil, fmt.Errorf("store: rotation to term %d exists already: %w", term, ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("store: insert key rotation %d: %w", term, err)
	}
	return r, nil
}

// KeyRotation loads the rotation to term.
func (q *Q) KeyRotation(ctx context.Context, term int) (*KeyRotation, error) {
	r, err := scanKeyRotation(q.q.QueryRowContext(ctx, `SELECT `+keyRotationColumns+` FROM keyring_rotations WHERE term = $1`, term))
	if err != nil {
		return nil, notFound(err, fmt.Sprintf("key rotation %d", term))
	}
	return r, nil
}

// KeyRotations lists every rotation, newest first.
func (q *Q) KeyRotations(ctx context.Context) ([]*KeyRotation, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT `+keyRotationColumns+` FROM keyring_rotations ORDER BY term DESC`)
	if err != nil {
		return nil, fmt.Errorf("store: list key rotations: %w", err)
	}
	defer rows.Close()
	var out []*KeyRotation
	for rows.Next() {
		r, err := scanKeyRotation(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list key rotations: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SetKeyRotationProgress checkpoints a rotation; finished also stamps its
// end.
func (q *Q) SetKeyRotationProgress(ctx context.Context, term int, progress string, finished bool) error {
	if finished {
		return q.execOne(ctx, "finish key rotation", `UPDATE keyring_rotations SET progress = $1, finished_at = $2 WHERE term = $3`, progress, q.Now(), term)
	}
	return q.execOne(ctx, "checkpoint key rotation", `UPDATE keyring_rotations SET progress = $1 WHERE term = $2`, progress, term)
}

// SecretTable names a table's sealed columns for key rotation: the ID
// column, the column recording the term that sealed the row (0: nothing
// sealed yet, or legacy plain values) and the sealed columns themselves.
// The names come from code, never from input; they are checked anyway
// because they are spliced into SQL.
type SecretTable struct {
	Table   string
	ID      string
	Term    string
	Columns []string
}

var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Check refuses names that are not plain lower-case SQL identifiers.
func (t SecretTable) Check() error {
	if len(t.Columns) == 0 {
		return fmt.Errorf("store: secret table %q lists no secret columns", t.Table)
	}
	for _, n := range append([]string{t.Table, t.ID, t.Term}, t.Columns...) {
		if !identifier.MatchString(n) {
			return fmt.Errorf("store: %q is not a plain SQL identifier", n)
		}
	}
	return nil
}

// anySet is the condition "some secret column is not empty".
func (t SecretTable) anySet() string {
	parts := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		parts[i] = c + " <> ''"
	}
	return "(" + strings.Join(parts, " OR ") + ")"
}

// SecretRow is one row's sealed (or legacy plain) values, in the order of
// SecretTable.Columns.
type SecretRow struct {
	ID     string
	Term   int
	Values []string
}

// SecretRowsBelowTerm pages through the rows holding a secret sealed under
// a term older than term (or not sealed at all), in ID order after the ID
// after.
func (q *Q) SecretRowsBelowTerm(ctx context.Context, t SecretTable, term int, after string, limit int) ([]SecretRow, error) {
	if err := t.Check(); err != nil {
		return nil, err
	}
	query := `SELECT ` + t.ID + `, ` + t.Term + `, ` + strings.Join(t.Columns, ", ") + ` FROM ` + t.Table +
		` WHERE ` + t.Term + ` < $1 AND ` + t.anySet() + ` AND ` + t.ID + ` > $2 ORDER BY ` + t.ID + ` LIMIT $3`
	rows, err := q.q.QueryContext(ctx, query, term, after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: read sealed %s: %w", t.Table, err)
	}
	defer rows.Close()
	var out []SecretRow
	for rows.Next() {
		r := SecretRow{Values: make([]string, len(t.Columns))}
		dest := []any{&r.ID, &r.Term}
		for i := range r.Values {
			dest = append(dest, &r.Values[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("store: read sealed %s: %w", t.Table, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ResealSecretRow replaces a row's sealed values and term, but only if the
// row still holds exactly what old says: a row changed since it was read
// (a user saved a new secret) is left alone, and false is returned.
func (q *Q) ResealSecretRow(ctx context.Context, t SecretTable, old SecretRow, values []string, term int) (bool, error) {
	if err := t.Check(); err != nil {
		return false, err
	}
	if len(values) != len(t.Columns) || len(old.Values) != len(t.Columns) {
		return false, fmt.Errorf("store: reseal %s: %d values for %d columns", t.Table, len(values), len(t.Columns))
	}
	var set, where []string
	args := []any{}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	for i, c := range t.Columns {
		set = append(set, c+" = "+arg(values[i]))
	}
	set = append(set, t.Term+" = "+arg(term))
	where = append(where, t.ID+" = "+arg(old.ID), t.Term+" = "+arg(old.Term))
	for i, c := range t.Columns {
		where = append(where, c+" = "+arg(old.Values[i]))
	}
	res, err := q.q.ExecContext(ctx, `UPDATE `+t.Table+` SET `+strings.Join(set, ", ")+` WHERE `+strings.Join(where, " AND "), args...)
	if err != nil {
		return false, fmt.Errorf("store: reseal %s %s: %w", t.Table, old.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: reseal %s %s: %w", t.Table, old.ID, err)
	}
	return n == 1, nil
}

// CountSecretsBelowTerm counts the rows holding a secret sealed under a
// term older than term (or not sealed at all).
func (q *Q) CountSecretsBelowTerm(ctx context.Context, t SecretTable, term int) (int, error) {
	if err := t.Check(); err != nil {
		return 0, err
	}
	var n int
	err := q.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t.Table+` WHERE `+t.Term+` < $1 AND `+t.anySet(), term).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: count sealed %s: %w", t.Table, err)
	}
	return n, nil
}

// CountSecretsByTerm counts the rows holding a secret, by the term that
// sealed them (0: legacy plain values).
func (q *Q) CountSecretsByTerm(ctx context.Context, t SecretTable) (map[int]int, error) {
	if err := t.Check(); err != nil {
		return nil, err
	}
	rows, err := q.q.QueryContext(ctx, `SELECT `+t.Term+`, COUNT(*) FROM `+t.Table+` WHERE `+t.anySet()+` GROUP BY `+t.Term)
	if err != nil {
		return nil, fmt.Errorf("store: count sealed %s by term: %w", t.Table, err)
	}
	defer rows.Close()
	out := map[int]int{}
	for rows.Next() {
		var term, n int
		if err := rows.Scan(&term, &n); err != nil {
			return nil, fmt.Errorf("store: count sealed %s by term: %w", t.Table, err)
		}
		out[term] = n
	}
	return out, rows.Err()
}
