// Command passthrough is W1 through Sluice's file connector while the
// engine does not exist yet: the file Source reads an NDJSON file under
// the files directory in batches and the file Sink writes every record to
// another (replace mode: a temporary file, fsync, rename), with no
// transform. It prints records per second, and how much of the time the
// final fsync and rename took.
//
//	passthrough -files-dir DIR IN.ndjson OUT.ndjson   (paths relative to DIR)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/sluice-dev/sluice/bench/w1"
	"github.com/sluice-dev/sluice/internal/connector"
	_ "github.com/sluice-dev/sluice/internal/connectors/standard"
)

func main() {
	dir := flag.String("files-dir", ".", "the files directory")
	batch := flag.Int("batch", connector.DefaultBatchSize, "records per Read")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: passthrough -files-dir DIR IN.ndjson OUT.ndjson")
		os.Exit(2)
	}
	if err := run(*dir, *batch, flag.Arg(0), flag.Arg(1)); err != nil {
		fmt.Fprintln(os.Stderr, "passthrough:", err)
		os.Exit(1)
	}
}

func run(dir string, batch int, from, to string) error {
	kind, err := connector.Lookup("file")
	if err != nil {
		return err
	}
	env := connector.Env{FilesDir: dir, BatchSize: batch}
	start := time.Now()
	res, err := w1.Passthrough(context.Background(), kind, env, from, to)
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	fmt.Printf("passthrough records=%d seconds=%.3f records_per_s=%.0f read=%d failed=%d close_seconds=%.3f\n",
		res.Written, secs, float64(res.Written)/secs, res.Read, res.Failed, res.Close.Seconds())
	return nil
}
