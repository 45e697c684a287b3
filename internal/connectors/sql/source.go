package sql

import (
	"bytes"
	"context"
	stdsql "database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sluice-dev/sluice/internal/connector"
)

// Source reads the rows of a query in batches ordered by a cursor column.
type Source struct {
	conn   Conn
	query  string // the user's query, trimmed of a final semicolon
	cursor string
	key    string
	batch  int

	db      *stdsql.DB
	opened  bool
	closed  bool
	done    bool
	after   any  // the last cursor value read
	hasLast bool // after is set
}

var (
	_ connector.Source    = (*Source)(nil)
	_ connector.Resumable = (*Source)(nil)
	_ connector.FetchByID = (*Source)(nil)
)

// NewSource checks settings (see the kind's fields) and builds a Source
// over conn. It does no I/O.
func NewSource(env connector.Env, conn Conn, settings map[string]any) (*Source, error) {
	s, ps := connector.Check(sourceFields, settings)
	if len(ps) > 0 {
		return nil, &connector.ValidationError{Problems: ps}
	}
	return newSource(env, conn, s)
}

func newSource(env connector.Env, conn Conn, s map[string]any) (*Source, error) {
	if err := checkConn(conn); err != nil {
		return nil, err
	}
	q := strings.TrimSpace(s["query"].(string))
	q = strings.TrimSpace(strings.TrimSuffix(q, ";"))
	if q == "" {
		return nil, invalid("query", errors.New("must not be empty"))
	}
	cursor := s["cursor_column"].(string)
	if err := checkIdent(cursor); err != nil {
		return nil, invalid("cursor_column", err)
	}
	key, _ := s["key"].(string)
	if key != "" {
		if err := checkIdent(key); err != nil {
			return nil, invalid("key", err)
		}
	}
	return &Source{conn: conn, query: q, cursor: cursor, key: key, batch: batchOf(env, s)}, nil
}

type position struct {
	Cursor json.RawMessage `json:"cursor"`
}

// Resume makes the next Open start after the row whose cursor value the
// Position holds ({"cursor": value}); nil means the start.
func (s *Source) Resume(pos connector.Position) error {
	if s.opened || s.closed {
		return errors.New("sql: Resume after Open")
	}
	if len(pos) == 0 {
		s.after, s.hasLast = nil, false
		return nil
	}
	var p position
	if err := json.Unmarshal(pos, &p); err != nil || len(p.Cursor) == 0 || string(p.Cursor) == "null" {
		return fmt.Errorf("%w: sql position %s is not {\"cursor\": value}", connector.ErrBadPosition, pos)
	}
	d := json.NewDecoder(bytes.NewReader(p.Cursor))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return fmt.Errorf("%w: %v", connector.ErrBadPosition, err)
	}
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			v = n
		} else if f, err := x.Float64(); err == nil {
			v = f
		} else {
			return fmt.Errorf("%w: cursor %s", connector.ErrBadPosition, x)
		}
	case string, bool:
	default:
		return fmt.Errorf("%w: the cursor must be a number or text, not %s", connector.ErrBadPosition, p.Cursor)
	}
	s.after, s.hasLast = v, true
	return nil
}

// Open connects to the database.
func (s *Source) Open(ctx context.Context) error {
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

func (s *Source) selectSQL() string {
	d := s.conn.Dialect
	var b strings.Builder
	b.WriteString("SELECT * FROM (")
	b.WriteString(s.query)
	b.WriteString(") AS sluice_src")
	if s.hasLast {
		b.WriteString(" WHERE sluice_src." + d.quote(s.cursor) + " > " + d.placeholder(1))
	}
	b.WriteString(" ORDER BY sluice_src." + d.quote(s.cursor) + " LIMIT " + strconv.Itoa(s.batch))
	return b.String()
}

// Read returns the next batch of rows and the Position after its last.
func (s *Source) Read(ctx context.Context) ([]connector.Record, connector.Position, error) {
	switch {
	case s.closed:
		return nil, nil, connector.ErrClosed
	case !s.opened:
		return nil, nil, errors.New("sql: Read before Open")
	case s.done:
		return nil, nil, io.EOF
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("sql: read: %w", err)
	}
	var args []any
	if s.hasLast {
		args = append(args, s.after)
	}
	rows, err := s.db.QueryContext(ctx, s.selectSQL(), args...)
	if err != nil {
		return nil, nil, fmt.Errorf("sql: read: %w", err)
	}
	maps, err := scanRows(rows, s.batch, s.conn.Dialect)
	if err != nil {
		return nil, nil, fmt.Errorf("sql: read: %w", err)
	}
	if len(maps) == 0 {
		s.done = true
		return nil, nil, io.EOF
	}
	last, ok := maps[len(maps)-1][s.cursor]
	if !ok {
		return nil, nil, fmt.Errorf("sql: read: the query has no column %q (cursor_column)", s.cursor)
	}
	if last == nil {
		return nil, nil, fmt.Errorf("sql: read: the cursor column %q is NULL", s.cursor)
	}
	posVal, err := json.Marshal(position{Cursor: mustJSON(last)})
	if err != nil {
		return nil, nil, fmt.Errorf("sql: read: cursor value: %w", err)
	}
	s.after, s.hasLast = cursorArg(last), true
	if len(maps) < s.batch {
		s.done = true
	}
	recs := make([]connector.Record, len(maps))
	for i, m := range maps {
		recs[i] = connector.Record{Data: m}
	}
	return recs, connector.Position(posVal), nil
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`null`)
	}
	return b
}

// cursorArg turns a normalised value back into a query parameter.
func cursorArg(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	default:
		return x
	}
}

// FetchByID returns the row whose key column equals id, from the same
// query. It needs the key setting.
func (s *Source) FetchByID(ctx context.Context, id string) (connector.Record, error) {
	switch {
	case s.closed:
		return connector.Record{}, connector.ErrClosed
	case !s.opened:
		return connector.Record{}, errors.New("sql: FetchByID before Open")
	case s.key == "":
		return connector.Record{}, fmt.Errorf("%w: the sql source has no key setting, so it cannot fetch a record by its ID", connector.ErrUnsupported)
	}
	d := s.conn.Dialect
	q := "SELECT * FROM (" + s.query + ") AS sluice_src WHERE sluice_src." + d.quote(s.key) + " = " + d.placeholder(1) + " LIMIT 1"
	rows, err := s.db.QueryContext(ctx, q, id)
	if err != nil {
		return connector.Record{}, fmt.Errorf("sql: fetch %q: %w", id, err)
	}
	maps, err := scanRows(rows, 1, s.conn.Dialect)
	if err != nil {
		return connector.Record{}, fmt.Errorf("sql: fetch %q: %w", id, err)
	}
	if len(maps) == 0 {
		return connector.Record{}, fmt.Errorf("%w: %s = %q", connector.ErrNotFound, s.key, id)
	}
	return connector.Record{Data: maps[0]}, nil
}

// Close releases the database.
func (s *Source) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.db != nil {
		return s.db.Close()
	}
	return nil
}

// scanRows reads at most limit rows as JSON-like maps and closes rows.
func scanRows(rows *stdsql.Rows, limit int, d Dialect) ([]map[string]any, error) {
	defer rows.Close()
	cols, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out []map[string]any
	for rows.Next() && len(out) < limit {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		m := make(map[string]any, len(cols))
		for i, c := range cols {
			m[c.Name()] = normalise(vals[i], strings.ToUpper(c.DatabaseTypeName()), d)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// normalise turns a driver value into a JSON value the steps understand:
// int, float64, string, bool, nil, or decoded JSON for json columns.
func normalise(v any, dbType string, d Dialect) any {
	switch x := v.(type) {
	case nil:
		return nil
	case int64:
		return int(x)
	case int32:
		return int(x)
	case int:
		return x
	case float32:
		return float64(x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return strconv.FormatFloat(x, 'g', -1, 64)
		}
		return x
	case bool:
		return x
	case uint64:
		if x <= math.MaxInt64 {
			return int(x)
		}
		return strconv.FormatUint(x, 10)
	case uint32:
		return int(x)
	case time.Time:
		if d == MySQL {
			// MySQL compares DATETIME with this form, not RFC 3339 (a
			// DSN with parseTime=true gives time.Time values).
			return x.Format("2006-01-02 15:04:05.999999")
		}
		return x.Format(time.RFC3339Nano)
	case []byte:
		return normaliseText(x, dbType)
	case string:
		if dbType == "JSON" || dbType == "JSONB" {
			var j any
			if json.Unmarshal([]byte(x), &j) == nil {
				return j
			}
		}
		return x
	default:
		return fmt.Sprint(x)
	}
}

// normaliseText converts text-protocol bytes by the column's type.
func normaliseText(b []byte, dbType string) any {
	s := string(b)
	switch dbType {
	case "INT", "INTEGER", "TINYINT", "SMALLINT", "MEDIUMINT", "BIGINT", "INT2", "INT4", "INT8", "YEAR",
		"UNSIGNED INT", "UNSIGNED TINYINT", "UNSIGNED SMALLINT", "UNSIGNED MEDIUMINT", "UNSIGNED BIGINT":
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return int(n)
		}
	case "FLOAT", "DOUBLE", "REAL", "FLOAT4", "FLOAT8":
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f
		}
	case "JSON", "JSONB":
		var j any
		if json.Unmarshal(b, &j) == nil {
			return j
		}
	}
	if utf8.Valid(b) {
		return s
	}
	return b // encodes as base64 in JSON
}
