package store

import (
	"context"
	"fmt"
	"time"
)

// Plan bounds what a project keeps and for how long.
type Plan struct {
	ID                      string
	Name                    string
	RunLogRetentionDays     int
	ConsoleLogRetentionDays int
	AuditRetentionDays      int
	Limits                  string // JSON
	Default                 bool
	CreatedAt               time.Time
}

const planColumns = `id, name, run_log_retention_days, console_log_retention_days, audit_retention_days, limits, is_default, created_at`

func scanPlan(row interface{ Scan(...any) error }) (*Plan, error) {
	p := &Plan{}
	if err := row.Scan(&p.ID, &p.Name, &p.RunLogRetentionDays, &p.ConsoleLogRetentionDays, &p.AuditRetentionDays,
		&p.Limits, &p.Default, &p.CreatedAt); err != nil {
		return nil, err
	}
	p.CreatedAt = p.CreatedAt.UTC()
	return p, nil
}

// CreatePlan inserts a plan; a taken name is ErrConflict.
func (q *Q) CreatePlan(ctx context.Context, p *Plan) error {
	if p.ID == "" {
		p.ID = NewID()
	}
	if p.Limits == "" {
		p.Limits = "{}"
	}
	p.CreatedAt = q.Now()
	_, err := q.q.ExecContext(ctx, `INSERT INTO plans (`+planColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		p.ID, p.Name, p.RunLogRetentionDays, p.ConsoleLogRetentionDays, p.AuditRetentionDays, p.Limits, false, p.CreatedAt)
	if isUniqueViolation(err) {
		return fmt.Errorf("store: create plan: name %q is taken: %w", p.Name, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("store: create plan: %w", err)
	}
	return nil
}

// PlanByID loads a plan.
func (q *Q) PlanByID(ctx context.Context, id string) (*Plan, error) {
	p, err := scanPlan(q.q.QueryRowContext(ctx, `SELECT `+planColumns+` FROM plans WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "plan")
	}
	return p, nil
}

// DefaultPlan is the plan new projects get.
func (q *Q) DefaultPlan(ctx context.Context) (*Plan, error) {
	p, err := scanPlan(q.q.QueryRowContext(ctx, `SELECT `+planColumns+` FROM plans WHERE is_default ORDER BY created_at LIMIT 1`))
	if err != nil {
		return nil, notFound(err, "default plan")
	}
	return p, nil
}

// ListPlans lists every plan by name.
func (q *Q) ListPlans(ctx context.Context) ([]*Plan, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT `+planColumns+` FROM plans ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: list plans: %w", err)
	}
	defer rows.Close()
	var out []*Plan
	for rows.Next() {
		p, err := scanPlan(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list plans: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
