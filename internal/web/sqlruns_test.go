package web_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

// sqlRunDB is a database a sql run reads from and writes to: the
// connection's settings and the test's own handle on it.
type sqlRunDB struct {
	kind     string
	settings map[string]any
	db       *sql.DB
	// ddl creates the source and target tables.
	ddl []string
}

func postgresRunDB(t *testing.T) *sqlRunDB {
	t.Helper()
	raw := storetest.CreateDatabase(t)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(u.Port())
	if p == 0 {
		p = 5432
	}
	db, err := sql.Open("pgx", raw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &sqlRunDB{kind: "postgres", db: db,
		settings: map[string]any{"host": "127.0.0.1", "port": p, "database": u.Path[1:], "user": u.User.Username(), "sslmode": "disable"},
		ddl: []string{
			`CREATE TABLE src (id int PRIMARY KEY, name text, qty int NOT NULL)`,
			`CREATE TABLE dst (id int PRIMARY KEY, name text NOT NULL, qty int NOT NULL)`,
		}}
}

func mariaRunDB(t *testing.T) *sqlRunDB {
	t.Helper()
	dsn := "root@tcp(127.0.0.1:3306)/test"
	if d := os.Getenv("SLUICE_TEST_MYSQL"); d != "" {
		dsn = d
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.Ping(); err != nil {
		t.Skipf("MariaDB is not reachable at %s: %v", cfg.Addr, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "sluice_run_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if a, err := sql.Open("mysql", dsn); err == nil {
			_, _ = a.Exec("DROP DATABASE IF EXISTS " + name)
			a.Close()
		}
	})
	cfg.DBName = name
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	host, port, _ := net.SplitHostPort(cfg.Addr)
	p, _ := strconv.Atoi(port)
	return &sqlRunDB{kind: "mysql", db: db,
		settings: map[string]any{"host": host, "port": p, "database": name, "user": cfg.User, "tls": "false"},
		ddl: []string{
			`CREATE TABLE src (id int PRIMARY KEY, name varchar(50) NULL, qty int NOT NULL)`,
			`CREATE TABLE dst (id int PRIMARY KEY, name varchar(50) NOT NULL, qty int NOT NULL)`,
		}}
}

// TestSQLRuns runs a sql → map → sql upsert flow through the API against
// PostgreSQL and MariaDB: the row with a NULL in a NOT NULL target column
// fails alone, the other four are upserted.
func TestSQLRuns(t *testing.T) {
	for _, tc := range []struct {
		name string
		db   func(*testing.T) *sqlRunDB
	}{{"PostgreSQL", postgresRunDB}, {"MariaDB", mariaRunDB}} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.db(t)
			ctx := context.Background()
			for _, q := range append(d.ddl,
				`INSERT INTO src (id, name, qty) VALUES (1, 'one', 1), (2, 'two', 2), (3, NULL, 3), (4, 'four', 4), (5, 'five', 5)`,
				// A stale row the upsert must update.
				`INSERT INTO dst (id, name, qty) VALUES (1, 'stale', 0)`) {
				if _, err := d.db.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}

			def := map[string]any{
				"name":      "copy",
				"read":      map[string]any{"connection": "db", "sql": map[string]any{"query": "SELECT id, name, qty FROM src", "cursor_column": "id", "key": "id", "batch_size": 2}},
				"entity_id": ".id",
				"steps": []any{
					map[string]any{"map": "{id, name, qty: (.qty * 10)}"},
					map[string]any{"write": map[string]any{"connection": "db", "sql": map[string]any{"table": "dst", "mode": "upsert", "key": []any{"id"}, "batch_size": 10}}},
				},
			}
			setup := func(o apptest.Options) (*apptest.Client, string, string, string) {
				_, ann := startAdmin(t, o)
				pid := mustProject(t, ann, "Warehouse")
				r := ann.Do(t, "POST", "/api/v1/projects/"+pid+"/connections", map[string]any{"name": "db", "kind": d.kind, "settings": d.settings})
				wantStatus(t, r, http.StatusCreated, "create connection")
				pipe := mustPipe(t, ann, pid, "db → db")
				return ann, pid, pipe, mustFlow(t, ann, pid, pipe, def)
			}

			// Without --egress-allow the database is out of reach: the
			// run goes through the egress guard and fails.
			{
				ann, pid, pipe, flow := setup(apptest.Options{})
				r := waitRun(t, ann, pid, startRun(t, ann, pid, pipe, flow))
				if r.String("status") != "failed" || !strings.Contains(r.String("error"), "egress") {
					t.Errorf("run without egress: %s", r.Body)
				}
			}

			ann, pid, pipe, flow := setup(loopbackAllowed)
			run := startRun(t, ann, pid, pipe, flow)
			r := waitRun(t, ann, pid, run)
			if r.String("status") != "partially_failed" {
				t.Fatalf("run: %s", r.Body)
			}
			if got, want := records(r), map[string]float64{"read": 5, "succeeded": 4, "failed": 1, "skipped": 0}; !equalCounts(got, want) {
				t.Errorf("records %v, want %v", got, want)
			}

			r = ann.Do(t, "GET", "/api/v1/projects/"+pid+"/runs/"+run+"/failures", nil)
			wantStatus(t, r, http.StatusOK, "failures")
			fs, _ := r.Get("failures").([]any)
			if len(fs) != 1 {
				t.Fatalf("failures %s, want one", r.Body)
			}
			if f := fs[0].(map[string]any); f["entity_id"] != "3" || f["error"] == "" {
				t.Errorf("failure %v", f)
			}

			rows, err := d.db.QueryContext(ctx, `SELECT id, name, qty FROM dst ORDER BY id`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			type row struct {
				id, qty int
				name    string
			}
			var got []row
			for rows.Next() {
				var x row
				if err := rows.Scan(&x.id, &x.name, &x.qty); err != nil {
					t.Fatal(err)
				}
				got = append(got, x)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			want := []row{{1, 10, "one"}, {2, 20, "two"}, {4, 40, "four"}, {5, 50, "five"}}
			if len(got) != len(want) {
				t.Fatalf("target rows %v, want %v", got, want)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("target rows %v, want %v", got, want)
					break
				}
			}
		})
	}
}
