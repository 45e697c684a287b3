package sql

import (
	"context"
	stdsql "database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/jsonx"
)

// Sink inserts or upserts records as rows of a table.
type Sink struct {
	conn   Conn
	table  string // quoted
	upsert bool
	key    []string
	batch  int
	copy   bool // PostgreSQL: try COPY first (copy.go)

	db     *stdsql.DB
	cc     *stdsql.Conn    // the COPY connection (copy.go)
	staged map[string]bool // the stage tables that exist on cc
	// directSkip counts the upsert batches left that go to the stage
	// without trying a plain COPY; directBackoff is what it was last set
	// to (copy.go).
	directSkip, directBackoff int
	opened                    bool
	closed                    bool
}

var _ connector.Sink = (*Sink)(nil)

// NewSink checks settings (see the kind's fields) and builds a Sink over
// conn. It does no I/O.
func NewSink(env connector.Env, conn Conn, settings map[string]any) (*Sink, error) {
	s, ps := connector.Check(sinkFields, settings)
	if len(ps) > 0 {
		return nil, &connector.ValidationError{Problems: ps}
	}
	return newSink(env, conn, s)
}

func newSink(env connector.Env, conn Conn, s map[string]any) (*Sink, error) {
	if err := checkConn(conn); err != nil {
		return nil, err
	}
	table, err := conn.Dialect.quoteTable(s["table"].(string))
	if err != nil {
		return nil, invalid("table", err)
	}
	mode, _ := s["mode"].(string)
	var key []string
	switch k := s["key"].(type) {
	case []string:
		key = slices.Clone(k)
	case []any:
		for _, x := range k {
			str, _ := x.(string)
			key = append(key, str)
		}
	}
	for _, k := range key {
		if err := checkIdent(k); err != nil {
			return nil, invalid("key", err)
		}
	}
	if mode == "upsert" && len(key) == 0 {
		return nil, invalid("key", errors.New("an upsert needs its key columns"))
	}
	return &Sink{conn: conn, table: table, upsert: mode == "upsert", key: key, batch: batchOf(env, s), copy: true}, nil
}

// Open connects to the database.
func (s *Sink) Open(ctx context.Context) error {
	if s.closed {
		return connector.ErrClosed
	}
	if s.opened {
		return errors.New("sql: Open called twice")
	}
	db, err := s.conn.Open(ctx)
	if err != nil {
		return fmt.Errorf("sql: connect: %w", err)
	}
	s.db, s.opened = db, true
	return nil
}

// Flush does nothing: every statement commits on its own.
func (s *Sink) Flush(ctx context.Context) error {
	if s.closed {
		return connector.ErrClosed
	}
	return nil
}

// Close releases the database.
func (s *Sink) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.releaseCopyConn()
	if s.db != nil {
		return s.db.Close()
	}
	return nil
}

// row is one record to insert: its fields, and their statement
// parameters once converted (convert).
type row struct {
	index int
	m     map[string]any
	vals  []any
}

// Write inserts the records, grouped by their set of columns, in
// statements of at most batch_size rows; a failing statement is split in
// halves until the rows that fail alone are found.
func (s *Sink) Write(ctx context.Context, records []connector.Record) ([]connector.Outcome, error) {
	switch {
	case s.closed:
		return nil, connector.ErrClosed
	case !s.opened:
		return nil, errors.New("sql: Write before Open")
	}
	out := make([]connector.Outcome, len(records))
	groups := map[string][]row{}
	colsOf := map[string][]string{}
	var order []string
	var lastCols []string // the columns of the record before, checked
	var lastSig string
	for i, r := range records {
		m, ok := r.Data.(map[string]any)
		if !ok {
			out[i].Err = fmt.Errorf("sql: a record must be a JSON object to become a row, not %T", r.Data)
			continue
		}
		if len(m) == 0 {
			out[i].Err = errors.New("sql: the record has no fields")
			continue
		}
		if sameKeys(m, lastCols) { // records of a flow mostly share their fields
			groups[lastSig] = append(groups[lastSig], row{index: i, m: m})
			continue
		}
		cols := make([]string, 0, len(m))
		var bad error
		for k := range m {
			if err := checkIdent(k); err != nil {
				bad = fmt.Errorf("sql: field name: %w", err)
				break
			}
			cols = append(cols, k)
		}
		if bad != nil {
			out[i].Err = bad
			continue
		}
		sort.Strings(cols)
		if s.upsert {
			if missing := missingKey(cols, s.key); missing != "" {
				out[i].Err = fmt.Errorf("sql: the record has no key field %q", missing)
				continue
			}
		}
		sig := strings.Join(cols, ",")
		if _, ok := groups[sig]; !ok {
			order = append(order, sig)
			colsOf[sig] = cols
		}
		groups[sig] = append(groups[sig], row{index: i, m: m})
		lastCols, lastSig = cols, sig
	}
	for _, sig := range order {
		cols := colsOf[sig]
		rows := groups[sig]
		per := s.batch
		if lim := maxParams / len(cols); per > lim {
			per = lim
		}
		for start := 0; start < len(rows); start += per {
			end := min(start+per, len(rows))
			if s.conn.Dialect == Postgres && s.copy {
				err := s.copyRows(ctx, cols, rows[start:end])
				if err == nil {
					continue
				}
				if ctx.Err() != nil {
					return nil, fmt.Errorf("sql: write: %w", ctx.Err())
				}
				if errors.Is(err, errNoCopy) {
					s.copy = false
				}
				// Write the rows by statements, which tell the bad ones.
			}
			if err := s.insert(ctx, cols, s.convert(cols, rows[start:end], out), out); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// convert sets the statement parameters of rows and returns the rows
// whose values all convert; each other row fails with the field that
// does not. COPY converts as it streams (copy.go) and needs no
// parameters, so only the statements call this.
func (s *Sink) convert(cols []string, rows []row, out []connector.Outcome) []row {
	good := rows[:0:0]
	for _, r := range rows {
		if r.vals == nil {
			vals := make([]any, len(cols))
			var bad error
			for j, c := range cols {
				v, err := param(r.m[c], s.conn.Dialect)
				if err != nil {
					bad = fmt.Errorf("sql: field %s: %w", c, err)
					break
				}
				vals[j] = v
			}
			if bad != nil {
				out[r.index].Err = bad
				continue
			}
			r.vals = vals
		}
		good = append(good, r)
	}
	return good
}

// sameKeys reports whether m's keys are exactly cols.
func sameKeys(m map[string]any, cols []string) bool {
	if len(cols) == 0 || len(m) != len(cols) {
		return false
	}
	for _, c := range cols {
		if _, ok := m[c]; !ok {
			return false
		}
	}
	return true
}

func missingKey(cols, key []string) string {
	for _, k := range key {
		if _, found := slices.BinarySearch(cols, k); !found {
			return k
		}
	}
	return ""
}

// insert writes rows in one statement; on a data error it splits them.
// It returns an error only when the whole call must fail.
func (s *Sink) insert(ctx context.Context, cols []string, rows []row, out []connector.Outcome) error {
	if len(rows) == 0 {
		return nil
	}
	q, args := s.statement(cols, rows)
	_, err := s.db.ExecContext(ctx, q, args...)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("sql: write: %w", ctx.Err())
	}
	switch errorScope(err) {
	case scopeCall:
		return fmt.Errorf("sql: write to %s: %w", s.table, valueFree(err))
	case scopeColumns:
		// An unknown column: every row with these columns fails alike.
		for _, r := range rows {
			out[r.index].Err = fmt.Errorf("sql: %s refused the row: %w", s.table, valueFree(err))
		}
		return nil
	}
	if len(rows) == 1 {
		out[rows[0].index].Err = fmt.Errorf("sql: %s refused the row: %w", s.table, valueFree(err))
		return nil
	}
	half := len(rows) / 2
	if err := s.insert(ctx, cols, rows[:half], out); err != nil {
		return err
	}
	return s.insert(ctx, cols, rows[half:], out)
}

// statement builds the INSERT for rows.
func (s *Sink) statement(cols []string, rows []row) (string, []any) {
	d := s.conn.Dialect
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(s.table)
	b.WriteString(" (")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(d.quote(c))
	}
	b.WriteString(") VALUES ")
	args := make([]any, 0, len(rows)*len(cols))
	n := 0
	for i, r := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j := range cols {
			if j > 0 {
				b.WriteString(", ")
			}
			n++
			b.WriteString(d.placeholder(n))
		}
		b.WriteByte(')')
		args = append(args, r.vals...)
	}
	if s.upsert {
		var set []string
		for _, c := range cols {
			if slices.Contains(s.key, c) {
				continue
			}
			if d == MySQL {
				set = append(set, d.quote(c)+" = VALUES("+d.quote(c)+")")
			} else {
				set = append(set, d.quote(c)+" = EXCLUDED."+d.quote(c))
			}
		}
		if d == MySQL {
			if len(set) == 0 {
				k := d.quote(s.key[0])
				set = append(set, k+" = "+k)
			}
			b.WriteString(" ON DUPLICATE KEY UPDATE " + strings.Join(set, ", "))
		} else {
			keys := make([]string, len(s.key))
			for i, k := range s.key {
				keys[i] = d.quote(k)
			}
			b.WriteString(" ON CONFLICT (" + strings.Join(keys, ", ") + ")")
			if len(set) == 0 {
				b.WriteString(" DO NOTHING")
			} else {
				b.WriteString(" DO UPDATE SET " + strings.Join(set, ", "))
			}
		}
	}
	return b.String(), args
}

// param turns a JSON value into a statement parameter: objects and arrays
// become JSON text. For PostgreSQL every scalar is sent as text, which the
// server parses for the column's type (pgx refuses, on the client, to
// encode a number into a text column and the like, which would fail a
// whole batch instead of the one record).
func param(v any, d Dialect) (any, error) {
	if d == Postgres {
		if v == nil {
			return nil, nil
		}
		return text(v)
	}
	switch x := v.(type) {
	case nil, string, bool, int, int64, int32, float64, float32:
		return x, nil
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, nil
		}
		return x.String(), nil
	default:
		return text(v)
	}
}

// text is v as the text a database parses: numbers without exponent
// where possible, true/false, JSON for objects and arrays.
func text(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "", fmt.Errorf("%v is not a number a database stores", x)
		}
		if math.Abs(x) < 1e21 {
			return strconv.FormatFloat(x, 'f', -1, 64), nil
		}
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case float32:
		return text(float64(x))
	case json.Number:
		return x.String(), nil
	default:
		b, err := jsonx.Append(nil, x)
		if err != nil {
			return "", err
		}
		return string(b), nil
	}
}

type scope int

const (
	scopeCall    scope = iota // the whole Write fails (connection, transient, missing table)
	scopeColumns              // every row of this column set fails (unknown column)
	scopeRows                 // some rows are refused: split to find them
)

// errorScope says what a failed statement concerns: the database refusing
// some rows (splitting the batch isolates them), the column set (an
// unknown column), or the whole call (a connection or transient failure,
// a missing table, no permission).
func errorScope(err error) scope {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if pe.Code == "42703" { // undefined column
			return scopeColumns
		}
		if len(pe.Code) < 2 {
			return scopeCall
		}
		switch pe.Code[:2] {
		case "08", "40", "53", "57", "58", "XX", "42":
			// connection, rollback/deadlock, resources, shutdown, system,
			// internal, syntax/undefined table/permission
			return scopeCall
		}
		return scopeRows
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1054: // unknown column
			return scopeColumns
		case 1205, 1213, 1040, 1053, 1077, 1081, 1146, 1142, 1044, 1045, 1064, 1290, 1836:
			// lock timeout, deadlock, too many connections, shutdown, no
			// table, denied, syntax, read-only
			return scopeCall
		}
		return scopeRows
	}
	return scopeCall
}

// dbError is a database's error with the values it quoted taken out: a
// refused row's error is stored with its run, and Sluice keeps no copy of
// the data it moves. It unwraps to the driver's error.
type dbError struct {
	msg string
	err error
}

func (e *dbError) Error() string { return e.msg }
func (e *dbError) Unwrap() error { return e.err }

var (
	// PostgreSQL's data exceptions quote the value: invalid input syntax
	// for type integer: "abc"; value "…" is out of range.
	pgQuoted = regexp.MustCompile(`"(?:[^"]|"")*"`)
	// MySQL: Duplicate entry 'x' for key 'k'; Incorrect integer value:
	// 'x' for column 'c'. The value is not escaped, so match up to the
	// words after it.
	myEntry = regexp.MustCompile(`(?s)(Duplicate entry |value: |value )'.*?' (for (?:key|column|function))`)
)

// valueFree is err with the values a PostgreSQL or MySQL error quotes
// taken out, keeping the kind of error and the constraint, column and
// table names. PostgreSQL's Detail ("Key (email)=(x@y) already
// exists.") and Where are left out; its message quotes a value only for
// data exceptions (SQLSTATE class 22). Other errors are kept as they are.
func valueFree(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		msg := pe.Message
		if strings.HasPrefix(pe.Code, "22") {
			msg = pgQuoted.ReplaceAllString(msg, "[value]")
		}
		out := pe.Severity + ": " + msg + " (SQLSTATE " + pe.Code + ")"
		if pe.ConstraintName != "" && !strings.Contains(msg, pe.ConstraintName) {
			out += ", constraint " + pe.ConstraintName
		}
		if pe.ColumnName != "" && !strings.Contains(msg, pe.ColumnName) {
			out += ", column " + pe.ColumnName
		}
		return &dbError{msg: out, err: err}
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		msg := myEntry.ReplaceAllString(me.Message, "${1}[value] $2")
		return &dbError{msg: fmt.Sprintf("Error %d: %s", me.Number, msg), err: err}
	}
	return err
}
