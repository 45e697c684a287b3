// Package sql is the sql connector (kind "sql"): it reads from and writes
// to PostgreSQL (pgx stdlib) and MySQL/MariaDB (go-sql-driver/mysql).
//
// The connector never opens a network connection itself: it is given a
// Conn, whose Open builds a *sql.DB that the runs layer made from the
// project's connection through the egress guard. Settings hold no DSN.
// The registered kind validates settings but cannot build a source or
// sink on its own (Env carries no connection); the runs layer calls
// Bind(conn).NewSource / NewSink, or NewSource / NewSink directly.
//
// Reading: the user's query is wrapped as a subquery,
//
//	SELECT * FROM (query) AS sluice_src WHERE "cursor" > $1 ORDER BY "cursor" LIMIT n
//
// (the WHERE only after the first batch), so batches follow the cursor
// column in ascending order and the Position is {"cursor": last value}.
// The cursor column should be unique (an id, or a strictly increasing
// sequence); rows sharing the cursor value of a batch's last row that did
// not fit in the batch would be skipped. FetchByID selects from the same
// subquery by the key column with the ID as a parameter.
//
// Writing: records (JSON objects) become one multi-row INSERT per batch,
// or, in upsert mode, INSERT ... ON CONFLICT (key) DO UPDATE (PostgreSQL)
// or INSERT ... ON DUPLICATE KEY UPDATE (MySQL). Values are always
// parameters; column names come from the records' keys and, like the
// table, key and cursor names, must be plain identifiers (letters, digits,
// underscore; the table may be schema.table) and are quoted per dialect.
// When a batch statement fails with a data error (a constraint, a value
// too long, a bad type), the batch is split in halves, recursively, so
// only the rows that fail alone are refused, each with the database's
// message. Connection-level and transient errors (deadlock, lock timeout,
// server shutting down) fail the whole Write for the engine to retry.
// Each statement is committed on its own (autocommit), so Flush has
// nothing to do.
package sql

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/sluice-dev/sluice/internal/connector"
)

// Dialect is a SQL database family.
type Dialect string

// The dialects.
const (
	Postgres Dialect = "postgres"
	MySQL    Dialect = "mysql"
)

// Conn is how the connector reaches its database. Open is called once per
// source or sink, in its Open; the connector owns the returned DB and
// closes it in Close.
type Conn struct {
	Dialect Dialect
	Open    func(ctx context.Context) (*stdsql.DB, error)
}

// ErrNoConnection is returned by the registered kind's constructors: an
// sql source or sink needs a Conn given by the runs layer (Bind).
var ErrNoConnection = errors.New("sql: the connector needs a database connection (built by the runs layer with Bind)")

// ErrIdentifier is wrapped by errors about a table, column or key name
// that is not a plain identifier.
var ErrIdentifier = errors.New("sql: not a plain identifier")

// plainIdent reports whether name matches [A-Za-z_][A-Za-z0-9_]* (a loop,
// not a regexp: the sink checks every field name of every record).
func plainIdent(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

const maxIdent = 63

// checkIdent reports whether name is a plain identifier.
func checkIdent(name string) error {
	if len(name) > maxIdent || !plainIdent(name) {
		return fmt.Errorf("%w: %q (use letters, digits and _, at most %d, not starting with a digit)", ErrIdentifier, name, maxIdent)
	}
	return nil
}

func (d Dialect) valid() bool { return d == Postgres || d == MySQL }

// quote quotes a checked identifier.
func (d Dialect) quote(name string) string {
	if d == MySQL {
		return "`" + name + "`"
	}
	return `"` + name + `"`
}

// quoteTable checks and quotes a table name, optionally schema.table.
func (d Dialect) quoteTable(name string) (string, error) {
	parts := strings.Split(name, ".")
	if len(parts) > 2 {
		return "", fmt.Errorf("%w: %q (a table is name or schema.name)", ErrIdentifier, name)
	}
	for i, p := range parts {
		if err := checkIdent(p); err != nil {
			return "", err
		}
		parts[i] = d.quote(p)
	}
	return strings.Join(parts, "."), nil
}

// placeholder is the n-th (1-based) parameter marker.
func (d Dialect) placeholder(n int) string {
	if d == MySQL {
		return "?"
	}
	return fmt.Sprintf("$%d", n)
}

// maxParams bounds the parameters of one statement (both protocols use a
// 16-bit count).
const maxParams = 65535

var sourceFields = []connector.Field{
	{Name: "query", Type: connector.TypeString, Required: true, Doc: "a SELECT whose rows are the records; it is wrapped as a subquery, so no ORDER BY or LIMIT is needed"},
	{Name: "cursor_column", Type: connector.TypeString, Required: true, Doc: "a column of the query's result, unique and increasing (an id or a sequence), that orders the batches and makes the checkpoint"},
	{Name: "key", Type: connector.TypeString, Doc: "the column holding the entity ID, used to fetch one record again when a run is reprocessed"},
	{Name: "batch_size", Type: connector.TypeInt, Min: 0, Max: 100000, Doc: "rows per batch (0: the run's batch size)"},
}

var sinkFields = []connector.Field{
	{Name: "table", Type: connector.TypeString, Required: true, Doc: "the table to write to, name or schema.name"},
	{Name: "mode", Type: connector.TypeEnum, Enum: []string{"insert", "upsert"}, Default: "insert", Doc: "insert adds rows; upsert updates the row with the same key"},
	{Name: "key", Type: connector.TypeList, Doc: "the key columns of an upsert (a primary key or unique constraint)"},
	{Name: "batch_size", Type: connector.TypeInt, Min: 0, Max: 100000, Doc: "rows per statement (0: the run's batch size)"},
}

// Bind returns the sql kind with its constructors bound to conn; the
// registered kind has no connection and its constructors fail with
// ErrNoConnection.
func Bind(conn Conn) *connector.Kind {
	return &connector.Kind{
		Name: "sql",
		Doc:  "PostgreSQL and MySQL/MariaDB: read a query in batches by a cursor column; insert or upsert rows",
		Read: &connector.SourceSpec{Fields: sourceFields, New: func(env connector.Env, s map[string]any) (connector.Source, error) {
			return newSource(env, conn, s)
		}},
		Write: &connector.SinkSpec{Fields: sinkFields, New: func(env connector.Env, s map[string]any) (connector.Sink, error) {
			return newSink(env, conn, s)
		}},
	}
}

func init() {
	connector.Register(Bind(Conn{}))
}

func batchOf(env connector.Env, s map[string]any) int {
	if n, _ := s["batch_size"].(int); n > 0 {
		return n
	}
	return env.Batch()
}

func checkConn(conn Conn) error {
	if conn.Open == nil {
		return ErrNoConnection
	}
	if !conn.Dialect.valid() {
		return fmt.Errorf("sql: unknown dialect %q (postgres or mysql)", conn.Dialect)
	}
	return nil
}

func invalid(field string, err error) error {
	return &connector.ValidationError{Problems: []connector.Problem{{Field: field, Message: err.Error(), Err: err}}}
}
