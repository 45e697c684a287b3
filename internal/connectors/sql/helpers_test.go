package sql

import (
	"context"
	"crypto/rand"
	stdsql "database/sql"
	"encoding/hex"
	"os"
	"testing"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

// testDB is a throwaway database in one dialect.
type testDB struct {
	dialect Dialect
	conn    Conn
	db      *stdsql.DB // for the test's own statements
	dsn     string     // MySQL only
}

func mysqlAdminDSN() string {
	if d := os.Getenv("SLUICE_TEST_MYSQL"); d != "" {
		return d
	}
	return "root@tcp(127.0.0.1:3306)/test"
}

func newPostgres(t *testing.T) *testDB {
	t.Helper()
	url := storetest.CreateDatabase(t)
	open := func(ctx context.Context) (*stdsql.DB, error) { return stdsql.Open("pgx", url) }
	db, err := open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &testDB{dialect: Postgres, conn: Conn{Dialect: Postgres, Open: open}, db: db}
}

func newMySQL(t *testing.T) *testDB {
	t.Helper()
	admin, err := stdsql.Open("mysql", mysqlAdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "sluice_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create MariaDB database: %v", err)
	}
	t.Cleanup(func() {
		a, err := stdsql.Open("mysql", mysqlAdminDSN())
		if err == nil {
			_, _ = a.Exec("DROP DATABASE IF EXISTS " + name)
			a.Close()
		}
	})
	cfg, err := mysql.ParseDSN(mysqlAdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName = name
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["sql_mode"] = "'STRICT_ALL_TABLES'"
	dsn := cfg.FormatDSN()
	open := func(ctx context.Context) (*stdsql.DB, error) { return stdsql.Open("mysql", dsn) }
	db, err := open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &testDB{dialect: MySQL, conn: Conn{Dialect: MySQL, Open: open}, db: db, dsn: dsn}
}

// eachDialect runs fn on a fresh PostgreSQL and a fresh MariaDB database.
func eachDialect(t *testing.T, fn func(t *testing.T, d *testDB)) {
	t.Run("postgres", func(t *testing.T) { fn(t, newPostgres(t)) })
	t.Run("mysql", func(t *testing.T) { fn(t, newMySQL(t)) })
}

func (d *testDB) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := d.db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// ordersTable creates orders(id, name NOT NULL, note varchar(5)).
func (d *testDB) ordersTable(t *testing.T) {
	d.exec(t, "CREATE TABLE orders (id BIGINT PRIMARY KEY, name VARCHAR(50) NOT NULL, note VARCHAR(5), amount FLOAT)")
}

func (d *testDB) seed(t *testing.T, n int) {
	d.ordersTable(t)
	for i := 1; i <= n; i++ {
		q := "INSERT INTO orders (id, name, amount) VALUES ($1, $2, $3)"
		if d.dialect == MySQL {
			q = "INSERT INTO orders (id, name, amount) VALUES (?, ?, ?)"
		}
		d.exec(t, q, i, "n"+itoa(i), float64(i)+0.5)
	}
}

func itoa(i int) string { return hex.EncodeToString([]byte{byte(i)}) }

func (d *testDB) source(t *testing.T, settings map[string]any) *Source {
	t.Helper()
	s, err := NewSource(connector.Env{BatchSize: 2}, d.conn, settings)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func (d *testDB) sink(t *testing.T, settings map[string]any) *Sink {
	t.Helper()
	s, err := NewSink(connector.Env{BatchSize: 100}, d.conn, settings)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func recs(data ...map[string]any) []connector.Record {
	out := make([]connector.Record, len(data))
	for i, d := range data {
		out[i] = connector.Record{Data: d}
	}
	return out
}
