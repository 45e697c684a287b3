package sql

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
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
func (s *Sink) copyRows(ctx context.Context, cols []string, rows []row) error {
	c, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Raw(func(dc any) error {
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
		data := csvRows(rows)
		if !s.upsert {
			_, err := conn.PgConn().CopyFrom(ctx, bytes.NewReader(data), "COPY "+s.table+" ("+colList+") FROM STDIN WITH (FORMAT csv)")
			return err
		}
		h := fnv.New64a()
		h.Write([]byte(s.table + "|" + strings.Join(cols, ",")))
		stage := fmt.Sprintf(`"sluice_stage_%x"`, h.Sum64())
		// Three round trips through the simple protocol: BEGIN with the
		// stage table, the COPY, then the upsert with the COMMIT.
		pg := conn.PgConn()
		_, err := pg.Exec(ctx, "BEGIN; CREATE TEMP TABLE IF NOT EXISTS "+stage+" ON COMMIT DELETE ROWS AS SELECT "+colList+" FROM "+s.table+" WITH NO DATA").ReadAll()
		if err == nil {
			_, err = pg.CopyFrom(ctx, bytes.NewReader(data), "COPY "+stage+" ("+colList+") FROM STDIN WITH (FORMAT csv)")
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
		return nil
	})
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

// csvRows encodes rows as CSV for COPY: NULL is an empty unquoted field,
// every text is quoted (so an empty text stays empty text).
func csvRows(rows []row) []byte {
	var b bytes.Buffer
	for _, r := range rows {
		for i, v := range r.vals {
			if i > 0 {
				b.WriteByte(',')
			}
			if v == nil {
				continue
			}
			str, _ := v.(string) // PostgreSQL values are text (param)
			b.WriteByte('"')
			b.WriteString(strings.ReplaceAll(str, `"`, `""`))
			b.WriteByte('"')
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}
