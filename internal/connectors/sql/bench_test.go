package sql

import (
	"context"
	stdsql "database/sql"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

// BenchmarkUpsertPostgres upserts batches of 500 (SQL_BENCH_BATCH) order-like records and,
// in the same run, copies the same rows with COPY for comparison (the
// copy/s metric).
func BenchmarkUpsertPostgres(b *testing.B) {
	url := storetest.CreateDatabase(b)
	ctx := context.Background()
	pc, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer pc.Close(ctx)
	for _, tbl := range []string{"orders", "orders_copy"} {
		if _, err := pc.Exec(ctx, "CREATE TABLE "+tbl+" (id BIGINT PRIMARY KEY, customer TEXT, email TEXT, status TEXT, amount DOUBLE PRECISION, currency TEXT, created TEXT, note TEXT)"); err != nil {
			b.Fatal(err)
		}
	}
	batch := 500
	if n, _ := strconv.Atoi(os.Getenv("SQL_BENCH_BATCH")); n > 0 {
		batch = n
	}
	mk := func(i int) map[string]any {
		return map[string]any{"id": i, "customer": fmt.Sprintf("customer-%d", i), "email": fmt.Sprintf("c%d@example.com", i),
			"status": "paid", "amount": float64(i) * 1.25, "currency": "EUR", "created": "2026-01-01T00:00:00Z",
			"note": "some note about the order that makes it about four hundred bytes long once encoded as JSON text"}
	}
	d := &testDB{dialect: Postgres}
	d.conn = Conn{Dialect: Postgres, Open: func(ctx context.Context) (*stdsqlDB, error) { return openPG(url) }}
	s, err := NewSink(connector.Env{BatchSize: batch}, d.conn, map[string]any{"table": "orders", "mode": "upsert", "key": []any{"id"}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.Open(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	rows := 0
	for i := 0; i < b.N; i++ {
		rs := make([]connector.Record, batch)
		for j := range rs {
			rs[j] = connector.Record{Data: mk(i*batch + j)}
		}
		out, err := s.Write(ctx, rs)
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range out {
			if o.Err != nil {
				b.Fatal(o.Err)
			}
		}
		rows += batch
	}
	el := b.Elapsed()
	b.ReportMetric(float64(rows)/el.Seconds(), "rows/s")
	b.StopTimer()
	cols := []string{"id", "customer", "email", "status", "amount", "currency", "created", "note"}
	src := make([][]any, rows)
	for i := range src {
		m := mk(i)
		row := make([]any, len(cols))
		for j, c := range cols {
			row[j] = m[c]
		}
		src[i] = row
	}
	start := nowFn()
	if _, err := pc.CopyFrom(ctx, pgx.Identifier{"orders_copy"}, cols, pgx.CopyFromRows(src)); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(rows)/nowFn().Sub(start).Seconds(), "copy-rows/s")
}

type stdsqlDB = stdsql.DB

func openPG(url string) (*stdsql.DB, error) { return stdsql.Open("pgx", url) }

var nowFn = time.Now
