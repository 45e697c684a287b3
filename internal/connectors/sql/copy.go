package sql

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-dev/sluice/internal/jsonx"
)

// errNoCopy says the database handle is not pgx's, so COPY is not at hand.
var errNoCopy = errors.New("sql: COPY needs the pgx driver")

// pgxConn is what pgx's database/sql driver connection offers.
type pgxConn interface{ Conn() *pgx.Conn }

// copyRows is PostgreSQL's fast path: the rows go in as CSV through COPY,
// straight into the table (insert) or into a temporary stage table that
// one INSERT ... SELECT ... ON CONFLICT then upserts from, all in one
// transaction. Any failure leaves the table as it was; the caller then
// writes the rows by statements, which isolate the bad ones.
//
// An upsert first tries the plain COPY into the table, which costs the
// server about half of the stage's COPY and INSERT: when none of the keys
// exist yet (a first load, new records), that is the whole upsert. A
// unique violation rolls that COPY back (a COPY is one statement) and the
// batch goes through the stage; the next batches then go straight to the
// stage, for a number of batches that doubles with each conflict (up to
// maxDirectSkip), so a flow that updates existing rows pays for a failed
// COPY only now and then.
//
// The COPYs of one sink go through one connection, kept from one Write to
// the next (copyConn), so each stage table is created once per sink, not
// before every batch. A failed batch gives that connection back: its
// rollback may have dropped a stage table created in it, and its session
// may be broken.
func (s *Sink) copyRows(ctx context.Context, cols []string, rows []row) error {
	c, err := s.copyConn(ctx)
	if err != nil {
		return err
	}
	err = c.Raw(func(dc any) error {
		pc, ok := dc.(pgxConn)
		if !ok {
			return errNoCopy
		}
		conn := pc.Conn()
		qcols := make([]string, len(cols))
		for i, col := range cols {
			qcols[i] = s.conn.Dialect.quote(col)
		}
		colList := strings.Join(qcols, ", ")
		// A new stream for every COPY: pgx reads it from its own
		// goroutine, which a broken connection may leave behind.
		data := func() io.Reader { return &csvStream{cols: cols, rows: rows} }
		direct := "COPY " + s.table + " (" + colList + ") FROM STDIN WITH (FORMAT csv)"
		if !s.upsert {
			_, err := conn.PgConn().CopyFrom(ctx, data(), direct)
			return err
		}
		if s.tryDirect() {
			_, err := conn.PgConn().CopyFrom(ctx, data(), direct)
			if err == nil {
				s.directDone(true)
				return nil
			}
			if !isUniqueViolation(err) || conn.PgConn().TxStatus() != 'I' {
				return err // bad rows: the statements find them
			}
			s.directDone(false) // some keys exist already: upsert through the stage
		}
		h := fnv.New64a()
		h.Write([]byte(s.table + "|" + strings.Join(cols, ",")))
		stage := fmt.Sprintf(`"sluice_stage_%x"`, h.Sum64())
		// Three round trips through the simple protocol: BEGIN (with the
		// stage table the first time), the COPY, then the upsert with the
		// COMMIT.
		pg := conn.PgConn()
		begin := "BEGIN"
		if !s.staged[stage] {
			begin += "; CREATE TEMP TABLE IF NOT EXISTS " + stage + " ON COMMIT DELETE ROWS AS SELECT " + colList + " FROM " + s.table + " WITH NO DATA"
		}
		_, err := pg.Exec(ctx, begin).ReadAll()
		if err == nil {
			_, err = pg.CopyFrom(ctx, data(), "COPY "+stage+" ("+colList+") FROM STDIN WITH (FORMAT csv)")
		}
		if err == nil {
			_, err = pg.Exec(ctx, "INSERT INTO "+s.table+" ("+colList+") SELECT "+colList+" FROM "+stage+s.conflictClause(cols)+"; COMMIT").ReadAll()
		}
		if err != nil {
			// Leave no transaction open on a connection the pool reuses.
			if _, rerr := pg.Exec(context.WithoutCancel(ctx), "ROLLBACK").ReadAll(); rerr != nil {
				_ = conn.Close(context.WithoutCancel(ctx))
			}
			return err
		}
		if pg.TxStatus() != 'I' {
			_ = conn.Close(context.WithoutCancel(ctx))
			return errors.New("sql: the COPY transaction did not end")
		}
		s.staged[stage] = true
		return nil
	})
	if err != nil {
		s.releaseCopyConn()
	}
	return err
}

// maxDirectSkip bounds the batches an upsert sends to the stage, after a
// plain COPY met existing keys, before it tries a plain COPY again.
const maxDirectSkip = 64

// tryDirect says whether this upsert batch tries the plain COPY first.
func (s *Sink) tryDirect() bool {
	if s.directSkip > 0 {
		s.directSkip--
		return false
	}
	return true
}

// directDone records how a plain COPY of an upsert went.
func (s *Sink) directDone(ok bool) {
	if ok {
		s.directBackoff = 0
		return
	}
	s.directBackoff = min(max(1, 2*s.directBackoff), maxDirectSkip)
	s.directSkip = s.directBackoff
}

// isUniqueViolation reports a PostgreSQL unique_violation.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// copyConn is the connection the sink's COPYs go through, taken from the
// pool at the first COPY.
func (s *Sink) copyConn(ctx context.Context) (*stdsql.Conn, error) {
	if s.cc != nil {
		return s.cc, nil
	}
	c, err := s.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	s.cc, s.staged = c, map[string]bool{}
	return c, nil
}

// releaseCopyConn gives the COPY connection back to the pool, which
// drops it if it broke.
func (s *Sink) releaseCopyConn() {
	if s.cc != nil {
		_ = s.cc.Close()
		s.cc, s.staged = nil, nil
	}
}

// conflictClause is PostgreSQL's ON CONFLICT clause for an upsert of cols.
func (s *Sink) conflictClause(cols []string) string {
	d := s.conn.Dialect
	var set []string
	for _, c := range cols {
		if !slices.Contains(s.key, c) {
			set = append(set, d.quote(c)+" = EXCLUDED."+d.quote(c))
		}
	}
	keys := make([]string, len(s.key))
	for i, k := range s.key {
		keys[i] = d.quote(k)
	}
	out := " ON CONFLICT (" + strings.Join(keys, ", ") + ")"
	if len(set) == 0 {
		return out + " DO NOTHING"
	}
	return out + " DO UPDATE SET " + strings.Join(set, ", ")
}

// csvStream is the COPY data of a batch: its rows as CSV, made as pgx
// reads them (in its own goroutine, while the server parses what it was
// sent), so that turning records into text overlaps the server's work.
// NULL is an empty unquoted field; every other value is quoted, so an
// empty text stays empty text. A value that cannot be converted ends the
// stream with its error: the COPY fails, and the statements that write the
// batch again fail that record alone.
type csvStream struct {
	cols    []string
	rows    []row
	next    int    // the next row to encode
	buf     []byte // encoded, not yet read
	off     int
	scratch []byte
}

// csvChunk is about how much CSV a csvStream makes ahead of its reader.
const csvChunk = 32 << 10

func (c *csvStream) Read(p []byte) (int, error) {
	for c.off >= len(c.buf) {
		if c.next >= len(c.rows) {
			return 0, io.EOF
		}
		c.buf, c.off = c.buf[:0], 0
		for c.next < len(c.rows) && len(c.buf) < csvChunk {
			var err error
			if c.buf, err = c.appendRow(c.buf, c.rows[c.next]); err != nil {
				return 0, err
			}
			c.next++
		}
	}
	n := copy(p, c.buf[c.off:])
	c.off += n
	return n, nil
}

// appendRow appends r as one CSV line, with each value as param gives it
// for PostgreSQL.
func (c *csvStream) appendRow(b []byte, r row) ([]byte, error) {
	for i, col := range c.cols {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		switch v := r.m[col].(type) {
		case nil:
			continue
		case string:
			b = appendCSVQuoted(b, v)
		case map[string]any, []any:
			if c.scratch, err = jsonx.Append(c.scratch[:0], v); err != nil {
				return nil, fmt.Errorf("sql: field %s: %w", col, err)
			}
			b = appendCSVQuoted(b, c.scratch)
		default:
			t, err := text(v)
			if err != nil {
				return nil, fmt.Errorf("sql: field %s: %w", col, err)
			}
			b = appendCSVQuoted(b, t)
		}
	}
	return append(b, '\n'), nil
}

// appendCSVQuoted appends s between double quotes, each quote doubled.
func appendCSVQuoted[T string | []byte](b []byte, s T) []byte {
	b = append(b, '"')
	for {
		q := -1
		for i := 0; i < len(s); i++ {
			if s[i] == '"' {
				q = i
				break
			}
		}
		if q < 0 {
			break
		}
		b = append(b, s[:q+1]...)
		b = append(b, '"')
		s = s[q+1:]
	}
	b = append(b, s...)
	return append(b, '"')
}
