package store

import (
	"context"
	"fmt"
	"time"
)

// AuditEvent is one row of the append-only activity log. Hash covers every
// other field and PrevHash, so editing or removing an event in the middle
// breaks the chain (see package audit).
type AuditEvent struct {
	Seq        int64
	ID         string
	At         time.Time
	ActorID    string
	ActorEmail string
	IP         string
	ProjectID  string
	Action     string
	Target     string
	Outcome    string
	Detail     string
	PrevHash   string
	Hash       string
}

const auditColumns = `seq, id, at, actor_id, actor_email, ip, project_id, action, target, outcome, detail, prev_hash, hash`

func scanAudit(row interface{ Scan(...any) error }) (*AuditEvent, error) {
	e := &AuditEvent{}
	if err := row.Scan(&e.Seq, &e.ID, &e.At, &e.ActorID, &e.ActorEmail, &e.IP, &e.ProjectID, &e.Action,
		&e.Target, &e.Outcome, &e.Detail, &e.PrevHash, &e.Hash); err != nil {
		return nil, err
	}
	e.At = e.At.UTC()
	return e, nil
}

// LockAuditChain serialises appends to the audit log for the rest of the
// transaction, so two events never chain onto the same predecessor. SQLite
// needs nothing: its single write connection already serialises writers.
func (q *Q) LockAuditChain(ctx context.Context) error {
	if q.dialect != Postgres {
		return nil
	}
	if q.tx == nil {
		return fmt.Errorf("store: lock audit chain: needs a transaction")
	}
	if _, err := q.q.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7305813531)`); err != nil {
		return fmt.Errorf("store: lock audit chain: %w", err)
	}
	return nil
}

// LastAuditHash is the hash of the newest event, or "" for an empty log.
func (q *Q) LastAuditHash(ctx context.Context) (string, error) {
	var h string
	err := q.q.QueryRowContext(ctx, `SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1`).Scan(&h)
	if err != nil {
		if err := notFound(err, "last audit event"); isNotFound(err) {
			return "", nil
		}
		return "", fmt.Errorf("store: last audit hash: %w", err)
	}
	return h, nil
}

// InsertAuditEvent appends e; the caller has computed its hashes.
func (q *Q) InsertAuditEvent(ctx context.Context, e *AuditEvent) error {
	err := q.q.QueryRowContext(ctx, `INSERT INTO audit_events (id, at, actor_id, actor_email, ip, project_id, action,
		target, outcome, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING seq`,
		e.ID, e.At, e.ActorID, e.ActorEmail, e.IP, e.ProjectID, e.Action, e.Target, e.Outcome, e.Detail, e.PrevHash, e.Hash).Scan(&e.Seq)
	if err != nil {
		return fmt.Errorf("store: insert audit event: %w", err)
	}
	return nil
}

// AuditFilter selects events for listing. Zero fields do not filter.
type AuditFilter struct {
	ProjectID string
	ActorID   string
	Action    string
	BeforeSeq int64
	// Since and Until bound the event time (inclusive, exclusive).
	Since, Until time.Time
	Limit        int
}

// ListAuditEvents lists events newest first.
func (q *Q) ListAuditEvents(ctx context.Context, f AuditFilter) ([]*AuditEvent, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	query := `SELECT ` + auditColumns + ` FROM audit_events WHERE 1 = 1`
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		query += fmt.Sprintf(" AND "+cond, len(args))
	}
	if f.ProjectID != "" {
		add("project_id = $%d", f.ProjectID)
	}
	if f.ActorID != "" {
		add("actor_id = $%d", f.ActorID)
	}
	if f.Action != "" {
		add("action = $%d", f.Action)
	}
	if f.BeforeSeq > 0 {
		add("seq < $%d", f.BeforeSeq)
	}
	if !f.Since.IsZero() {
		add("at >= $%d", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		add("at < $%d", f.Until.UTC())
	}
	args = append(args, f.Limit)
	query += fmt.Sprintf(" ORDER BY seq DESC LIMIT $%d", len(args))
	rows, err := q.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list audit events: %w", err)
	}
	defer rows.Close()
	var out []*AuditEvent
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list audit events: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// EachAuditEvent calls fn for every event in chain order, streaming, so a
// long log is verified in constant memory.
func (q *Q) EachAuditEvent(ctx context.Context, fn func(*AuditEvent) error) error {
	rows, err := q.q.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_events ORDER BY seq`)
	if err != nil {
		return fmt.Errorf("store: read audit events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return fmt.Errorf("store: read audit events: %w", err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}
