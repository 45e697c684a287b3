// Command load is W3 (issue 5, Measure): W1's order records upserted into
// PostgreSQL by Sluice, beside psql's \copy of the same rows.
//
//	load -db URL -files-dir DIR [-table orders] [-batch 500]
//	load -csv OUT.csv -files-dir DIR
//
// The first form runs the W3 flow (Flow: in.ndjson under -files-dir, every
// record upserted on its id into the table) through the engine, the file
// source and the sql sink, with the run-level accounting callbacks, and
// prints records per second for the whole run and for the time spent in
// the sink's Write alone. The second form writes the rows the sink would
// write as CSV, for psql's \copy: numbers as they are in the input,
// objects and arrays as compact JSON.
package main

import (
	"bufio"
	"bytes"
	"context"
	stdsql "database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/sluice-dev/sluice/internal/connector"
	sqlconn "github.com/sluice-dev/sluice/internal/connectors/sql"
	_ "github.com/sluice-dev/sluice/internal/connectors/standard"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/flow"
)

// Flow is the W3 flow; %s is the table.
const Flow = `name: w3
read: {file: {path: in.ndjson, format: ndjson}}
entity_id: .id
write: {connection: pg, sql: {table: %s, mode: upsert, key: [id]}}
`

// Columns are the W3 table's columns, in the CSV's order.
var Columns = []string{"id", "order_no", "status", "created_at", "updated_at", "currency", "total", "customer", "items", "shipping"}

func main() {
	db := flag.String("db", "", "PostgreSQL URL (loopback)")
	files := flag.String("files-dir", "", "the files directory holding in.ndjson")
	table := flag.String("table", "orders", "the table to upsert into")
	batch := flag.Int("batch", connector.DefaultBatchSize, "records per source batch, and so per sink Write")
	csvOut := flag.String("csv", "", "write the rows as CSV to this file instead")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the load to this file")
	flag.Parse()
	if *cpuProfile != "" {
		stop, err := profile(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			os.Exit(1)
		}
		defer stop()
	}
	var err error
	switch {
	case *files == "" || flag.NArg() != 0 || (*db == "") == (*csvOut == ""):
		fmt.Fprintln(os.Stderr, "usage: load -db URL -files-dir DIR [-table orders] [-batch 500] | load -csv OUT.csv -files-dir DIR")
		os.Exit(2)
	case *csvOut != "":
		err = writeCSV(filepath.Join(*files, "in.ndjson"), *csvOut)
	default:
		err = run(context.Background(), *db, *files, *table, *batch)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func profile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// timedSink measures the time spent in Write.
type timedSink struct {
	connector.Sink
	in     time.Duration
	writes int
}

func (t *timedSink) Write(ctx context.Context, recs []connector.Record) ([]connector.Outcome, error) {
	start := time.Now()
	out, err := t.Sink.Write(ctx, recs)
	t.in += time.Since(start)
	t.writes++
	return out, err
}

func run(ctx context.Context, dbURL, filesDir, table string, batch int) error {
	c, err := flow.Load(fmt.Appendf(nil, Flow, table))
	if err != nil {
		return fmt.Errorf("the W3 flow: %w", err)
	}
	env := connector.Env{FilesDir: filesDir, BatchSize: batch}
	fileKind, err := connector.Lookup("file")
	if err != nil {
		return err
	}
	src, err := fileKind.NewSource(env, map[string]any{"path": c.Read.File.Path, "format": c.Read.File.Format})
	if err != nil {
		return err
	}
	w := c.Steps[len(c.Steps)-1].Write
	open := func(context.Context) (*stdsql.DB, error) { return stdsql.Open("pgx", dbURL) }
	kind := sqlconn.Bind(sqlconn.Conn{Dialect: sqlconn.Postgres, Open: open})
	sink, err := kind.NewSink(env, map[string]any{"table": w.SQL.Table, "mode": w.SQL.Mode, "key": []any{"id"}})
	if err != nil {
		return err
	}
	ts := &timedSink{Sink: sink}
	var failures int
	var firstFailure string
	var progress engine.Counters
	start := time.Now()
	res, err := engine.Run(ctx, c, src, map[string]connector.Sink{"write": ts}, engine.Options{
		OnFailure: func(f engine.Failure) {
			if failures == 0 {
				firstFailure = f.EntityID + " " + f.Stage + ": " + f.Error
			}
			failures++
		},
		OnProgress: func(c engine.Counters, _ connector.Position) { progress = c },
	})
	secs := time.Since(start).Seconds()
	if err != nil {
		return err
	}
	if progress != res.Counters || res.Read != res.Succeeded+res.Failed+res.Skipped {
		return fmt.Errorf("the counters do not add up: %+v, last progress %+v", res.Counters, progress)
	}
	fmt.Printf("sluice records=%d seconds=%.3f records_per_s=%.0f sink_seconds=%.3f sink_records_per_s=%.0f writes=%d read=%d succeeded=%d failed=%d\n",
		res.Succeeded, secs, float64(res.Succeeded)/secs, ts.in.Seconds(), float64(res.Succeeded)/ts.in.Seconds(), ts.writes,
		res.Read, res.Succeeded, res.Failed)
	if failures > 0 {
		return fmt.Errorf("%d records failed, the first: %s", failures, firstFailure)
	}
	return nil
}

// writeCSV writes the rows of the NDJSON file in as CSV, in Columns order.
func writeCSV(in, out string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	o, err := os.Create(out)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(o, 1<<16)
	cw := csv.NewWriter(bw)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 16<<20)
	row := make([]string, len(Columns))
	line := 0
	for sc.Scan() {
		line++
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			return fmt.Errorf("%s line %d: %w", in, line, err)
		}
		for i, c := range Columns {
			switch v := m[c].(type) {
			case string:
				row[i] = v
			case json.Number:
				row[i] = v.String()
			case nil:
				return fmt.Errorf("%s line %d: no %s", in, line, c)
			default:
				b, err := json.Marshal(v)
				if err != nil {
					return err
				}
				row[i] = string(b)
			}
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if line == 0 {
		return errors.New(in + " has no records")
	}
	return o.Close()
}
