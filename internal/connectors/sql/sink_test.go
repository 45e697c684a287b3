package sql

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/connector/connectortest"
)

func (d *testDB) rows(t *testing.T) map[int]string {
	t.Helper()
	rs, err := d.db.Query("SELECT id, name, COALESCE(note, '') FROM orders ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	out := map[int]string{}
	for rs.Next() {
		var id int
		var name, note string
		if err := rs.Scan(&id, &name, &note); err != nil {
			t.Fatal(err)
		}
		out[id] = name + "/" + note
	}
	return out
}

func write(t *testing.T, s *Sink, records []connector.Record) []connector.Outcome {
	t.Helper()
	out, err := s.Write(context.Background(), records)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if len(out) != len(records) {
		t.Fatalf("%d outcomes for %d records", len(out), len(records))
	}
	return out
}

func TestInsertAndUpsert(t *testing.T) {
	eachDialect(t, func(t *testing.T, d *testDB) {
		d.ordersTable(t)
		ins := d.sink(t, map[string]any{"table": "orders"})
		for i, o := range write(t, ins, recs(
			map[string]any{"id": 1.0, "name": "a", "note": "x"},
			map[string]any{"id": 2, "name": "b"},
		)) {
			if o.Err != nil {
				t.Fatalf("record %d: %v", i, o.Err)
			}
		}
		// Inserting the same key again fails that record only.
		out := write(t, ins, recs(map[string]any{"id": 1, "name": "dup"}, map[string]any{"id": 3, "name": "c"}))
		if out[0].Err == nil || out[1].Err != nil {
			t.Fatalf("duplicate insert outcomes %v", out)
		}
		up := d.sink(t, map[string]any{"table": "orders", "mode": "upsert", "key": []any{"id"}})
		for _, o := range write(t, up, recs(map[string]any{"id": 1, "name": "A", "note": "y"}, map[string]any{"id": 4, "name": "d"})) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
		}
		// The second upsert updates.
		for _, o := range write(t, up, recs(map[string]any{"id": 4, "name": "D", "note": "z"})) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
		}
		want := map[int]string{1: "A/y", 2: "b/", 3: "c/", 4: "D/z"}
		if got := d.rows(t); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("table %v, want %v", got, want)
		}
	})
}

func TestBadRowFailsAlone(t *testing.T) {
	eachDialect(t, func(t *testing.T, d *testDB) {
		d.ordersTable(t)
		s := d.sink(t, map[string]any{"table": "orders", "mode": "upsert", "key": []any{"id"}})
		var rs []map[string]any
		for i := 1; i <= 20; i++ {
			rs = append(rs, map[string]any{"id": i, "name": fmt.Sprint("r", i), "note": "ok"})
		}
		rs[6]["name"] = nil             // NOT NULL
		rs[13]["note"] = "far too long" // VARCHAR(5)
		out := write(t, s, recs(rs...))
		for i, o := range out {
			bad := i == 6 || i == 13
			if bad != (o.Err != nil) {
				t.Fatalf("record %d: err %v", i, o.Err)
			}
		}
		t.Logf("messages: %v | %v", out[6].Err, out[13].Err)
		if !strings.Contains(strings.ToLower(out[6].Err.Error()), "null") {
			t.Fatalf("NOT NULL message: %v", out[6].Err)
		}
		if got := len(d.rows(t)); got != 18 {
			t.Fatalf("%d rows written, want 18", got)
		}
	})
}

func TestMixedShapesAndUnknownColumns(t *testing.T) {
	eachDialect(t, func(t *testing.T, d *testDB) {
		d.ordersTable(t)
		s := d.sink(t, map[string]any{"table": "orders"})
		records := recs(
			map[string]any{"id": 1, "name": "a"},
			map[string]any{"id": 2, "name": "b", "nope": 1},
			map[string]any{"id": 3, "name": "c", "note": "n"},
			map[string]any{"id": 4, `name"; DROP TABLE orders; --`: "x"},
		)
		records = append(records, connector.Record{Data: []any{1}})
		out := write(t, s, records)
		for i, o := range out {
			bad := i == 1 || i == 3 || i == 4
			if bad != (o.Err != nil) {
				t.Fatalf("record %d: err %v", i, o.Err)
			}
		}
		if !errors.Is(out[3].Err, ErrIdentifier) {
			t.Fatalf("injected field name: %v", out[3].Err)
		}
		if got := d.rows(t); len(got) != 2 {
			t.Fatalf("rows %v", got)
		}
	})
}

func TestMissingTableFailsTheCall(t *testing.T) {
	eachDialect(t, func(t *testing.T, d *testDB) {
		s := d.sink(t, map[string]any{"table": "no_such_table"})
		if _, err := s.Write(context.Background(), recs(map[string]any{"id": 1})); err == nil {
			t.Fatal("Write to a missing table succeeded")
		}
	})
}

func TestIdentifierInjectionRefused(t *testing.T) {
	conn := Conn{Dialect: Postgres, Open: newPostgresNever}
	for _, c := range []struct {
		sink     bool
		settings map[string]any
	}{
		{true, map[string]any{"table": `orders"; DROP TABLE x; --`}},
		{true, map[string]any{"table": "a.b.c"}},
		{true, map[string]any{"table": "orders", "mode": "upsert", "key": []any{"id`"}}},
		{true, map[string]any{"table": "orders", "mode": "upsert"}},
		{true, map[string]any{"table": "1orders"}},
		{false, map[string]any{"query": "SELECT 1", "cursor_column": "id) OR (1=1"}},
		{false, map[string]any{"query": "SELECT 1", "cursor_column": "id", "key": "k'"}},
		{false, map[string]any{"query": ";", "cursor_column": "id"}},
	} {
		var err error
		if c.sink {
			_, err = NewSink(connector.Env{}, conn, c.settings)
		} else {
			_, err = NewSource(connector.Env{}, conn, c.settings)
		}
		var ve *connector.ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("%v: %v, want a validation error", c.settings, err)
		}
	}
	if _, err := NewSink(connector.Env{}, conn, map[string]any{"table": "public.orders"}); err != nil {
		t.Errorf("schema.table refused: %v", err)
	}
}

func newPostgresNever(context.Context) (*stdsql.DB, error) { return nil, errors.New("no") }

func TestRegisteredKind(t *testing.T) {
	k, err := connector.Lookup("sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.NewSink(connector.Env{}, map[string]any{"table": "t"}); !errors.Is(err, ErrNoConnection) {
		t.Fatalf("registered kind without connection: %v", err)
	}
	if _, err := k.NewSink(connector.Env{}, map[string]any{"table": "t", "bogus": 1}); err == nil {
		t.Fatal("unknown setting accepted")
	}
}

func TestSinkContract(t *testing.T) {
	eachDialect(t, func(t *testing.T, d *testDB) {
		d.ordersTable(t)
		connectortest.RunSink(t, func(t *testing.T) connector.Sink {
			s, err := NewSink(connector.Env{}, d.conn, map[string]any{"table": "orders", "mode": "upsert", "key": []any{"id"}})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}, recs(map[string]any{"id": 1, "name": "a"}, map[string]any{"id": 2, "name": "b"}))
	})
}

func TestUpsertSameKeyTwiceInABatch(t *testing.T) {
	eachDialect(t, func(t *testing.T, d *testDB) {
		d.ordersTable(t)
		s := d.sink(t, map[string]any{"table": "orders", "mode": "upsert", "key": []any{"id"}})
		for i, o := range write(t, s, recs(
			map[string]any{"id": 1, "name": "first"},
			map[string]any{"id": 2, "name": "b"},
			map[string]any{"id": 1, "name": "second"},
		)) {
			if o.Err != nil {
				t.Fatalf("record %d: %v", i, o.Err)
			}
		}
		if got := d.rows(t); got[1] != "second/" || len(got) != 2 {
			t.Fatalf("rows %v", got)
		}
	})
}

func TestLooseTypes(t *testing.T) {
	eachDialect(t, func(t *testing.T, d *testDB) {
		d.ordersTable(t)
		s := d.sink(t, map[string]any{"table": "orders"})
		out := write(t, s, recs(
			map[string]any{"id": "1", "name": 5, "amount": "2.5"},
			map[string]any{"id": 2.0, "name": true, "note": map[string]any{"a": 1}},
			map[string]any{"id": 3, "name": "x", "amount": "not a number"},
		))
		if out[0].Err != nil || out[2].Err == nil {
			t.Fatalf("outcomes %v", out)
		}
		got := d.rows(t)
		if got[1] != "5/" {
			t.Fatalf("rows %v", got)
		}
		t.Logf("rows %v; record 1: %v; record 2: %v", got, out[1].Err, out[2].Err)
	})
}

// TestCopyPathValuesAndRecovery checks texts that CSV must quote, empty
// text against NULL, and that a failed COPY leaves the (single) pooled
// connection usable, out of any transaction.
func TestCopyPathValuesAndRecovery(t *testing.T) {
	eachDialect(t, func(t *testing.T, d *testDB) {
		d.exec(t, "CREATE TABLE orders (id BIGINT PRIMARY KEY, name VARCHAR(50) NOT NULL, note VARCHAR(5), amount FLOAT)")
		open := d.conn.Open
		d.conn.Open = func(ctx context.Context) (*stdsql.DB, error) {
			db, err := open(ctx)
			if err == nil {
				db.SetMaxOpenConns(1)
			}
			return db, err
		}
		for _, mode := range []string{"insert", "upsert"} {
			s := d.sink(t, map[string]any{"table": "orders", "mode": mode, "key": []any{"id"}})
			base := 0
			if mode == "upsert" {
				base = 10
			}
			out := write(t, s, recs(
				map[string]any{"id": base + 1, "name": "a,\"b\"\nc\\N", "note": ""},
				map[string]any{"id": base + 2, "name": "x", "note": nil},
				map[string]any{"id": base + 3, "name": nil},
			))
			if out[0].Err != nil || out[1].Err != nil || out[2].Err == nil {
				t.Fatalf("%s outcomes %v", mode, out)
			}
			out = write(t, s, recs(map[string]any{"id": base + 4, "name": "after"}))
			if out[0].Err != nil {
				t.Fatalf("%s write after a failure: %v", mode, out[0].Err)
			}
			got := d.rows(t)
			if got[base+1] != "a,\"b\"\nc\\N/" || got[base+2] != "x/" || got[base+4] != "after/" {
				t.Fatalf("%s rows %v", mode, got)
			}
			var nulls int
			if err := d.db.QueryRow("SELECT COUNT(*) FROM orders WHERE note IS NULL").Scan(&nulls); err != nil || nulls != 2*(base/10+1) {
				t.Fatalf("%s NULL notes %d (%v)", mode, nulls, err)
			}
		}
	})
}

// TestCopyPathTaken checks that PostgreSQL's COPY path itself succeeds
// (the statement path would hide its failure).
func TestCopyPathTaken(t *testing.T) {
	d := newPostgres(t)
	d.ordersTable(t)
	for i, mode := range []string{"insert", "upsert"} {
		s := d.sink(t, map[string]any{"table": "orders", "mode": mode, "key": []any{"id"}})
		id := strconv.Itoa(i + 1)
		for range 2 {
			if err := s.copyRows(context.Background(), []string{"id", "name"}, []row{{m: map[string]any{"id": id, "name": "z" + mode}}}); err != nil {
				if mode == "insert" {
					break // the second insert of the same id fails, as it should
				}
				t.Fatalf("%s: %v", mode, err)
			}
		}
		if !s.copy {
			t.Fatal("COPY turned off")
		}
	}
	if got := d.rows(t); got[1] != "zinsert/" || got[2] != "zupsert/" {
		t.Fatalf("rows %v", got)
	}
}
