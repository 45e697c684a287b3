// Package storetest opens fresh, migrated stores for tests: always an
// SQLite file in a temporary directory, and a throwaway PostgreSQL database
// when one is reachable (required when CI=true). Each(t, fn) runs fn on
// every dialect, so every store test is a contract test of both.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/internal/queue"
	"github.com/sluice-dev/sluice/internal/store"
)

// PostgresURL is the server tests create their databases on:
// SLUICE_TEST_POSTGRES_URL, or the local server with trust auth.
func PostgresURL() string {
	if v := os.Getenv("SLUICE_TEST_POSTGRES_URL"); v != "" {
		return v
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// Dialects lists what Each runs on: SQLite always, PostgreSQL when it
// answers. With CI=true (or SLUICE_TEST_POSTGRES=require) an unreachable
// PostgreSQL fails the test instead of skipping it.
func Dialects(t testing.TB) []store.Dialect {
	out := []store.Dialect{store.SQLite}
	if os.Getenv("SLUICE_TEST_POSTGRES") == "off" {
		return out
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, PostgresURL())
	if err != nil {
		if os.Getenv("CI") == "true" || os.Getenv("SLUICE_TEST_POSTGRES") == "require" {
			t.Fatalf("PostgreSQL is required in CI but unreachable at %s: %v", PostgresURL(), err)
		}
		t.Logf("PostgreSQL unreachable, testing SQLite only: %v", err)
		return out
	}
	conn.Close(ctx)
	return append(out, store.Postgres)
}

// Each runs fn as a subtest on a fresh migrated store of every dialect.
func Each(t *testing.T, fn func(t *testing.T, st *store.Store)) {
	t.Helper()
	for _, d := range Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			fn(t, Open(t, d, store.Options{}))
		})
	}
}

// Open returns a fresh migrated store of dialect d, removed when the test
// ends.
func Open(t testing.TB, d store.Dialect, opts store.Options) *store.Store {
	t.Helper()
	st, _ := OpenURL(t, d, opts)
	return st
}

// OpenURL is Open that also returns where the database is: the SQLite file
// path or the PostgreSQL URL, for tests that start a second process or node
// on the same database.
func OpenURL(t testing.TB, d store.Dialect, opts store.Options) (*store.Store, string) {
	t.Helper()
	ctx := context.Background()
	var st *store.Store
	var where string
	var err error
	switch d {
	case store.SQLite:
		where = filepath.Join(t.TempDir(), "sluice.db")
		st, err = store.OpenSQLite(ctx, where, opts)
	case store.Postgres:
		where = CreateDatabase(t)
		st, err = store.OpenPostgres(ctx, where, opts)
	}
	if err != nil {
		t.Fatalf("open %s store: %v", d, err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrate %s store: %v", d, err)
	}
	if err := queue.Migrate(ctx, st); err != nil {
		t.Fatalf("migrate %s queue: %v", d, err)
	}
	return st, where
}

// CreateDatabase makes an empty PostgreSQL database for one test, dropped
// at cleanup, and returns its URL.
func CreateDatabase(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, PostgresURL())
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	defer admin.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "sluice_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	u, err := url.Parse(PostgresURL())
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresURL(), err)
	}
	u.Path = "/" + name
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, PostgresURL())
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
	})
	return u.String()
}
