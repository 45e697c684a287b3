package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations
var migrationFS embed.FS

// Migration is one embedded schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations lists the embedded migrations of a dialect in order.
func Migrations(d Dialect) ([]Migration, error) {
	dir := path.Join("migrations", string(d))
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, fmt.Errorf("store: read migrations for %s: %w", d, err)
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("store: migration file %s: name must start with a positive number and an underscore", name)
		}
		body, err := fs.ReadFile(migrationFS, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("store: read migration %s: %w", name, err)
		}
		out = append(out, Migration{Version: v, Name: strings.TrimSuffix(name, ".sql"), SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := range out {
		if out[i].Version != i+1 {
			return nil, fmt.Errorf("store: migrations for %s: expected version %d, found %s", d, i+1, out[i].Name)
		}
	}
	return out, nil
}

// LatestVersion is the schema version this binary was built for.
func LatestVersion(d Dialect) int {
	m, err := Migrations(d)
	if err != nil || len(m) == 0 {
		return 0
	}
	return m[len(m)-1].Version
}

const createVersionTable = `CREATE TABLE IF NOT EXISTS sluice_schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TIMESTAMP NOT NULL
)`

// SchemaVersion is the highest migration applied to the database (0 for an
// empty database).
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	if _, err := s.write.ExecContext(ctx, createVersionTable); err != nil {
		return 0, fmt.Errorf("store: create migrations table: %w", err)
	}
	var v int
	if err := s.write.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM sluice_schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("store: read schema version: %w", err)
	}
	return v, nil
}

// CheckSchema refuses a database that a newer binary has migrated, and
// reports whether migrations are pending.
func (s *Store) CheckSchema(ctx context.Context) (pending int, err error) {
	have, err := s.SchemaVersion(ctx)
	if err != nil {
		return 0, err
	}
	want := LatestVersion(s.dialect)
	if have > want {
		return 0, fmt.Errorf("%w: the database is at schema version %d but this binary knows only up to %d; run a Sluice release at least as new as the one that last migrated it", ErrSchemaTooNew, have, want)
	}
	return want - have, nil
}

// Migrate applies every pending migration, each in its own transaction. On
// PostgreSQL an advisory lock keeps two nodes starting at once from racing.
// It returns the versions it applied.
func (s *Store) Migrate(ctx context.Context) ([]int, error) {
	if _, err := s.CheckSchema(ctx); err != nil {
		return nil, err
	}
	migrations, err := Migrations(s.dialect)
	if err != nil {
		return nil, err
	}
	var applied []int
	for _, m := range migrations {
		err := s.InTx(ctx, func(q *Q) error {
			if s.dialect == Postgres {
				if _, err := q.q.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7305813530)`); err != nil {
					return fmt.Errorf("store: lock for migration: %w", err)
				}
			}
			var done int
			if err := q.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM sluice_schema_migrations WHERE version = $1`, m.Version).Scan(&done); err != nil {
				return fmt.Errorf("store: check migration %s: %w", m.Name, err)
			}
			if done > 0 {
				return nil
			}
			if _, err := q.q.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("store: apply migration %s: %w", m.Name, err)
			}
			if _, err := q.q.ExecContext(ctx, `INSERT INTO sluice_schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`, m.Version, m.Name, q.Now()); err != nil {
				return fmt.Errorf("store: record migration %s: %w", m.Name, err)
			}
			applied = append(applied, m.Version)
			return nil
		})
		if err != nil {
			return applied, err
		}
	}
	return applied, nil
}
