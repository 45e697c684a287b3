package sql

import (
	"context"
	stdsql "database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
)

// TestCopyUpsertPaths runs PostgreSQL's COPY upsert over a single pooled
// connection through batches that take each path: the plain COPY (no key
// exists yet), the stage (some keys exist), the stage again without
// trying the plain COPY (after a conflict), and the statements (a bad row:
// only it fails), including a bad row found inside the transaction that
// creates the stage table (its rollback drops it, and the next batch
// creates it again).
func TestCopyUpsertPaths(t *testing.T) {
	d := newPostgres(t)
	d.ordersTable(t)
	d.exec(t, "CREATE UNIQUE INDEX orders_name ON orders (name)")
	open := d.conn.Open
	d.conn.Open = func(ctx context.Context) (*stdsql.DB, error) {
		db, err := open(ctx)
		if err == nil {
			db.SetMaxOpenConns(1)
		}
		return db, err
	}
	const (
		statements = "statements"
		direct     = "plain COPY"
		stage      = "stage"
	)
	steps := []struct {
		name      string
		fresh     bool // a new sink
		first     int  // ids first..first+4
		bad       int  // this id has no name (NOT NULL), or badName
		badName   any
		tag       string
		wantPath  string
		wantSkips int // batches left that skip the plain COPY
	}{
		{"bad row in new keys", false, 1, 3, nil, "a", statements, 0},
		{"new keys", false, 6, 0, nil, "a", direct, 0},
		{"bad row in new keys again", false, 11, 15, nil, "a", statements, 0},
		{"existing keys", false, 6, 0, nil, "b", stage, 1},
		{"new keys just after a conflict", false, 16, 0, nil, "a", stage, 0},
		{"new keys again", false, 21, 0, nil, "a", direct, 0},
		// A name taken by another row: the plain COPY meets id 6 first, and
		// the stage's INSERT, whose ON CONFLICT is on id only, fails in the
		// transaction that created the stage table.
		{"bad row in existing keys, failing in the stage's first transaction", true, 6, 8, "n1a", "c", statements, 1},
		{"existing keys after it", false, 6, 0, nil, "d", stage, 0},
	}
	var s *Sink
	for _, st := range steps {
		if s == nil || st.fresh {
			s = d.sink(t, map[string]any{"table": "orders", "mode": "upsert", "key": []any{"id"}})
		}
		var batch []map[string]any
		for id := st.first; id < st.first+5; id++ {
			name := any(fmt.Sprintf("n%d%s", id, st.tag))
			if id == st.bad {
				name = st.badName
			}
			batch = append(batch, map[string]any{"id": id, "name": name, "note": "ok"})
		}
		out := write(t, s, recs(batch...))
		for i, o := range out {
			if id := st.first + i; (o.Err != nil) != (id == st.bad) {
				t.Fatalf("%s: record %d: %v", st.name, id, o.Err)
			}
		}
		path := statements
		switch {
		case s.cc != nil && s.directBackoff > 0 && len(s.staged) == 1:
			path = stage // the last plain COPY met existing keys
		case s.cc != nil && s.directBackoff == 0:
			path = direct
		}
		if path != st.wantPath || s.directSkip != st.wantSkips || !s.copy {
			t.Fatalf("%s: went through %s (stage tables %v), %d batches skip the plain COPY, COPY on %v; want %s, %d",
				st.name, path, s.staged, s.directSkip, s.copy, st.wantPath, st.wantSkips)
		}
	}
	got := d.rows(t)
	want := map[int]string{1: "n1a/ok", 2: "n2a/ok", 4: "n4a/ok", 5: "n5a/ok", 6: "n6d/ok", 8: "n8d/ok", 10: "n10d/ok", 14: "n14a/ok", 16: "n16a/ok", 25: "n25a/ok"}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("row %d = %q, want %q", id, got[id], w)
		}
	}
	if len(got) != 23 || got[3] != "" || got[15] != "" {
		t.Errorf("rows %v", got)
	}
	if err := s.Close(); err != nil || s.cc != nil {
		t.Fatalf("Close: %v (COPY connection %v)", err, s.cc)
	}
}

func TestCSVStream(t *testing.T) {
	cols := []string{"a", "b", "c", "d", "e"}
	rows := []row{
		{m: map[string]any{"a": `a"b""`, "b": nil, "c": "", "d": "x,y\nz", "e": `\N`}},
		{m: map[string]any{"a": json.Number("12.50"), "c": map[string]any{"q": `"<`}, "d": []any{true, 1.5}, "e": false}},
	}
	want := `"a""b""""",,"","x,y` + "\nz" + `","\N"` + "\n" +
		`"12.50",,"{""q"":""\""\u003c""}","[true,1.5]","false"` + "\n"
	for _, bufSize := range []int{1, 7, 1 << 16} {
		got, err := io.ReadAll(&smallReads{r: &csvStream{cols: cols, rows: rows}, n: bufSize})
		if err != nil || string(got) != want {
			t.Errorf("reads of %d: %q, %v; want %q", bufSize, got, err, want)
		}
	}
	c := &csvStream{cols: cols, rows: append(rows, row{m: map[string]any{"a": math.NaN()}})}
	if _, err := io.ReadAll(c); err == nil || !strings.Contains(err.Error(), "field a") {
		t.Errorf("a NaN: %v", err)
	}
}

// smallReads reads from r at most n bytes at a time.
type smallReads struct {
	r io.Reader
	n int
}

func (s *smallReads) Read(p []byte) (int, error) { return s.r.Read(p[:min(len(p), s.n)]) }

// TestUnconvertibleValueFailsAlone: a value no database stores (NaN, also
// inside an object) fails its record alone, whether it stops PostgreSQL's
// COPY stream or MariaDB's statement, and the other records are written.
func TestUnconvertibleValueFailsAlone(t *testing.T) {
	eachDialect(t, func(t *testing.T, d *testDB) {
		d.ordersTable(t)
		for _, mode := range []string{"insert", "upsert"} {
			s := d.sink(t, map[string]any{"table": "orders", "mode": mode, "key": []any{"id"}})
			base := 0
			if mode == "upsert" {
				base = 10
			}
			out := write(t, s, recs(
				map[string]any{"id": base + 1, "name": "a"},
				map[string]any{"id": base + 2, "name": "b", "amount": math.NaN()},
				map[string]any{"id": base + 3, "name": "c"},
				map[string]any{"id": base + 4, "name": map[string]any{"x": math.Inf(1)}},
			))
			for i, o := range out {
				// MariaDB's driver sends a NaN float, which the server refuses.
				if bad := i == 1 || i == 3; (o.Err != nil) != bad || bad && d.dialect == Postgres && !strings.Contains(o.Err.Error(), "field") {
					t.Fatalf("%s record %d: %v", mode, i, o.Err)
				}
			}
			if got := d.rows(t); got[base+1] != "a/" || got[base+3] != "c/" || got[base+2] != "" || got[base+4] != "" {
				t.Fatalf("%s rows %v", mode, got)
			}
		}
	})
}
