// Command gen writes the W1 input: N shop orders of about 400 bytes each
// as NDJSON, the same bytes for the same -n and -seed on every machine.
//
//	go run ./bench/w1/gen -n 1000000 -o /tmp/w1/files/in.ndjson
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"

	"github.com/sluice-dev/sluice/bench/w1"
)

func main() {
	n := flag.Int("n", 1_000_000, "number of records")
	seed := flag.Uint64("seed", 1, "random seed")
	out := flag.String("o", "", "output file (default: stdout)")
	flag.Parse()
	if err := run(*n, *seed, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(n int, seed uint64, out string) error {
	f := os.Stdout
	if out != "" {
		var err error
		if f, err = os.Create(out); err != nil {
			return err
		}
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := w1.Generate(w, n, seed); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}
