package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/sluice-dev/sluice/internal/flow"
)

// cmdValidate checks flow files as saving them would, printing every
// problem as FILE:LINE:COL: path: message. It needs no database and
// no server. "-" reads standard input.
func cmdValidate(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: sluice validate FILE...\n\nChecks flow documents (YAML or JSON) and prints every problem as\nFILE:LINE:COL: path: message. Exit status 0: all valid; 1: a flow is\ninvalid; 2: a file cannot be read. FILE - reads standard input.\n")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() == 0 {
		return usageError{errors.New("usage: sluice validate FILE... (the flow documents to check)")}
	}
	invalid := 0
	for _, name := range fs.Args() {
		data, err := readFlowFile(name, stdin)
		if err != nil {
			return usageError{err}
		}
		_, err = flow.Parse(data)
		var ve *flow.ValidationError
		switch {
		case errors.As(err, &ve):
			invalid++
			for _, p := range ve.Problems {
				if p.Line > 0 {
					fmt.Fprintf(stdout, "%s:%s\n", name, p) // FILE:LINE:COL: path: message
				} else {
					fmt.Fprintf(stdout, "%s: %s\n", name, p)
				}
			}
		case err != nil:
			return fmt.Errorf("validate %s: %w", name, err)
		default:
			fmt.Fprintf(stdout, "%s: valid\n", name)
		}
	}
	if invalid > 0 {
		return fmt.Errorf("%d of %d flow file(s) invalid", invalid, fs.NArg())
	}
	return nil
}

// readFlowFile reads a flow file, refusing one larger than any flow can
// be before reading all of it.
func readFlowFile(name string, stdin io.Reader) ([]byte, error) {
	var r io.Reader = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("cannot read the flow file: %w", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, flow.MaxDocumentBytes+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read the flow file %s: %w", name, err)
	}
	if len(data) > flow.MaxDocumentBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes, the most a flow can be", name, flow.MaxDocumentBytes)
	}
	return data, nil
}
