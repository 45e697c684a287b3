package sql

import (
	"context"
	stdsql "database/sql"
	"errors"
	"io"
	"testing"

	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/connector/connectortest"
)

func readAll(t *testing.T, s *Source) ([]map[string]any, []connector.Position) {
	t.Helper()
	var rows []map[string]any
	var pos []connector.Position
	for i := 0; i < 100; i++ {
		rs, p, err := s.Read(context.Background())
		if errors.Is(err, io.EOF) {
			return rows, pos
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		for _, r := range rs {
			rows = append(rows, r.Data.(map[string]any))
		}
		pos = append(pos, p)
	}
	t.Fatal("Read does not end")
	return nil, nil
}

func TestReadBatchesAndResume(t *testing.T) {
	eachDialect(t, func(t *testing.T, d *testDB) {
		d.seed(t, 5)
		settings := map[string]any{"query": "SELECT id, name, amount FROM orders WHERE id <> 3;", "cursor_column": "id", "key": "id"}
		s := d.source(t, settings)
		if err := s.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		rows, pos := readAll(t, s)
		if len(rows) != 4 {
			t.Fatalf("read %d rows, want 4: %v", len(rows), rows)
		}
		wantIDs := []int{1, 2, 4, 5}
		for i, r := range rows {
			if r["id"] != wantIDs[i] {
				t.Fatalf("row %d id %#v (%T), want %d", i, r["id"], r["id"], wantIDs[i])
			}
		}
		if rows[0]["name"] != "n01" || rows[0]["amount"] != 1.5 {
			t.Fatalf("row 0 = %#v", rows[0])
		}
		if len(pos) != 2 || string(pos[0]) != `{"cursor":2}` {
			t.Fatalf("positions %v", pos)
		}
		// Resume after the first batch: the rows after id 2.
		r := d.source(t, settings)
		if err := r.Resume(pos[0]); err != nil {
			t.Fatal(err)
		}
		if err := r.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		rest, _ := readAll(t, r)
		if len(rest) != 2 || rest[0]["id"] != 4 || rest[1]["id"] != 5 {
			t.Fatalf("resumed rows %v", rest)
		}
		// A bad position is refused.
		b := d.source(t, settings)
		if err := b.Resume(connector.Position(`{"offset":3}`)); !errors.Is(err, connector.ErrBadPosition) {
			t.Fatalf("Resume of a foreign position: %v", err)
		}
	})
}

func TestReadTextCursorAndJSON(t *testing.T) {
	eachDialect(t, func(t *testing.T, d *testDB) {
		d.exec(t, "CREATE TABLE t (code VARCHAR(10) PRIMARY KEY, n INT)")
		d.exec(t, "INSERT INTO t VALUES ('a', 1), ('b', 2), ('c', 3)")
		s := d.source(t, map[string]any{"query": "SELECT code, n FROM t", "cursor_column": "code", "batch_size": 2})
		if err := s.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		rows, pos := readAll(t, s)
		if len(rows) != 3 || rows[2]["code"] != "c" || rows[2]["n"] != 3 {
			t.Fatalf("rows %v", rows)
		}
		if string(pos[0]) != `{"cursor":"b"}` {
			t.Fatalf("position %s", pos[0])
		}
	})
}

func TestFetchByID(t *testing.T) {
	eachDialect(t, func(t *testing.T, d *testDB) {
		d.seed(t, 3)
		s := d.source(t, map[string]any{"query": "SELECT id, name FROM orders", "cursor_column": "id", "key": "id"})
		if err := s.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		r, err := s.FetchByID(context.Background(), "2")
		if err != nil {
			t.Fatal(err)
		}
		if m := r.Data.(map[string]any); m["id"] != 2 || m["name"] != "n02" {
			t.Fatalf("fetched %v", m)
		}
		if _, err := s.FetchByID(context.Background(), "9"); !errors.Is(err, connector.ErrNotFound) {
			t.Fatalf("missing ID: %v", err)
		}
		// An ID is a parameter, never SQL.
		if _, err := s.FetchByID(context.Background(), "0 OR 1=1"); err == nil {
			t.Fatal("an injected ID found a row")
		}
		nk := d.source(t, map[string]any{"query": "SELECT id FROM orders", "cursor_column": "id"})
		if err := nk.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := nk.FetchByID(context.Background(), "1"); !errors.Is(err, connector.ErrUnsupported) {
			t.Fatalf("FetchByID without key: %v", err)
		}
	})
}

func TestSourceContract(t *testing.T) {
	eachDialect(t, func(t *testing.T, d *testDB) {
		d.seed(t, 3)
		connectortest.RunSource(t, func(t *testing.T) connector.Source {
			return d.source(t, map[string]any{"query": "SELECT * FROM orders", "cursor_column": "id"})
		}, 3)
	})
}

func TestTimestampCursor(t *testing.T) {
	eachDialect(t, func(t *testing.T, d *testDB) {
		testTimestampCursor(t, d)
	})
	t.Run("mysql parseTime", func(t *testing.T) {
		d := newMySQL(t)
		open := d.conn.Open
		d.conn.Open = func(ctx context.Context) (*stdsql.DB, error) {
			db, err := open(ctx)
			if err != nil {
				return nil, err
			}
			db.Close()
			return stdsql.Open("mysql", d.dsn+"&parseTime=true")
		}
		testTimestampCursor(t, d)
	})
}

func testTimestampCursor(t *testing.T, d *testDB) {
	{
		typ := "TIMESTAMP"
		if d.dialect == MySQL {
			typ = "DATETIME(6)"
		}
		d.exec(t, "CREATE TABLE ev (at "+typ+" PRIMARY KEY, n INT)")
		d.exec(t, "INSERT INTO ev VALUES ('2026-01-01 10:00:00.5', 1), ('2026-01-01 10:00:01', 2), ('2026-01-02 00:00:00', 3)")
		settings := map[string]any{"query": "SELECT at, n FROM ev", "cursor_column": "at", "batch_size": 1}
		s := d.source(t, settings)
		if err := s.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		rows, pos := readAll(t, s)
		if len(rows) != 3 {
			t.Fatalf("rows %v", rows)
		}
		t.Logf("positions %v", pos)
		r := d.source(t, settings)
		if err := r.Resume(pos[0]); err != nil {
			t.Fatal(err)
		}
		if err := r.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		rest, _ := readAll(t, r)
		if len(rest) != 2 || rest[0]["n"] != 2 {
			t.Fatalf("resumed %v", rest)
		}
	}
}
