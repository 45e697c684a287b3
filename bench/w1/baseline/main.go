// Command baseline is the W1 baseline: it copies an NDJSON file record by
// record with the minimal Go loop of bench/w1.Baseline (bufio,
// encoding/json into map[string]any and back, nothing else) and prints
// its records per second. bench/w1/run.sh runs it beside the file
// connector's passthrough.
//
//	baseline IN.ndjson OUT.ndjson
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/sluice-dev/sluice/bench/w1"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: baseline IN.ndjson OUT.ndjson")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}

func run(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	start := time.Now()
	n, err := w1.Baseline(in, out)
	if err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	fmt.Printf("baseline records=%d seconds=%.3f records_per_s=%.0f\n", n, secs, float64(n)/secs)
	return nil
}
