// Command sluice is the whole of Sluice in one binary: the server, queue
// workers and the administrative commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `Sluice: self-hosted, security-first integration middleware.

Usage:
  sluice serve     [flags]   run the web console, the API and (by default) the queue workers
  sluice worker    [flags]   run only queue workers against a shared PostgreSQL database
  sluice migrate   [flags]   apply database migrations and exit
  sluice admin create-user --email E [--name N] [--admin]   create an account (password on stdin)
  sluice keys rotate [--no-wait]   add a key term and re-encrypt every stored secret under it
  sluice keys status               show the key terms, rotations and what each term sealed
  sluice audit verify        check that the activity log's hash chain is intact
  sluice validate FILE...    check flow documents and print every problem
  sluice run FLOW_FILE [--connections FILE]   run a flow once, without a server; exit
                             0 completed, 1 partially failed, 2 failed, 3 bad usage or input
  sluice version

Run "sluice COMMAND -h" for the flags of a command. Every flag can also be set
with an environment variable: --data-dir is SLUICE_DATA_DIR, and so on. The
master key that unlocks stored secrets is SLUICE_MASTER_KEY (environment only)
or --master-key-file; back it up apart from the database: without it nothing
stored encrypted can be read.
`

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run is main without the process: tests call it directly.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = cmdServe(ctx, args[1:], stdout, stderr, getenv)
	case "worker":
		err = cmdWorker(ctx, args[1:], stderr, getenv)
	case "migrate":
		err = cmdMigrate(ctx, args[1:], stdout, stderr, getenv)
	case "admin":
		err = cmdAdmin(ctx, args[1:], stdin, stdout, stderr, getenv)
	case "audit":
		err = cmdAudit(ctx, args[1:], stdout, stderr, getenv)
	case "keys":
		err = cmdKeys(ctx, args[1:], stdout, stderr, getenv)
	case "validate":
		err = cmdValidate(args[1:], stdin, stdout, stderr)
	case "run":
		err = cmdRun(ctx, args[1:], stdin, stdout, stderr, getenv)
	case "version", "--version":
		fmt.Fprintln(stdout, "sluice", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "sluice: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var es exitStatus
	if errors.As(err, &es) {
		if es.err != nil {
			fmt.Fprintf(stderr, "sluice: %v\n", es.err)
		}
		return es.code
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "sluice: %v\n", err)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "sluice: %v\n", err)
		return 1
	}
	return 0
}

// usageError is a command line that cannot work as written.
type usageError struct{ error }
