package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/sluice-dev/sluice/internal/connection"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/flow"
	"github.com/sluice-dev/sluice/internal/netguard"
	"github.com/sluice-dev/sluice/internal/runs"
	"github.com/sluice-dev/sluice/internal/store"
)

// Exit statuses of sluice run.
const (
	exitCompleted = 0
	exitPartial   = 1
	exitFailed    = 2
	exitUsage     = 3
	exitCancelled = 130
)

const runUsage = `Usage: sluice run FLOW_FILE [--connections FILE] [--files-dir DIR] [--egress-allow CIDR,...] [--quiet]

Runs a flow once in this process, without a server or a database, and
prints a summary: its counters, its duration and the failed records (entity
ID, stage, error). Values of log steps are written to standard output as
JSON lines; the progress line (on a terminal) and the summary go to
standard error.

The connections file (YAML or JSON) maps each connection name the flow uses
to {kind, settings, secrets, auth}, as the API takes them. Secrets are never
written in it: each secret field is "${ENV_NAME}", read from the environment.

  erp:
    kind: postgres
    settings: {host: db.example.com, database: erp, user: sluice}
    secrets: {password: "${ERP_PASSWORD}"}

Connections go through the egress guard: loopback, private and link-local
addresses are refused unless --egress-allow names them.

Exit status: 0 the run completed; 1 it partially failed (some records
failed); 2 it failed (every record failed, or the flow could not run);
3 bad usage, an invalid flow or an invalid connections file;
130 interrupted (Ctrl-C), after printing the summary.

Flags:
`

// exitStatus ends a command with a status of its own; err, when set, is
// printed first.
type exitStatus struct {
	code int
	err  error
}

func (e exitStatus) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

// runFlags are sluice run's flags.
type runFlags struct {
	connections string
	filesDir    string
	egressAllow []string
	quiet       bool
}

// parseRunArgs reads sluice run's flags, which may come before or after
// FLOW_FILE, with SLUICE_* environment variables as defaults.
func parseRunArgs(args []string, stderr io.Writer, getenv func(string) string) (string, *runFlags, error) {
	rf := &runFlags{connections: getenv("SLUICE_CONNECTIONS"), filesDir: getenv("SLUICE_FILES_DIR")}
	if rf.filesDir == "" {
		rf.filesDir = "."
	}
	rf.egressAllow = splitCSV(getenv("SLUICE_EGRESS_ALLOW"))
	fromEnv := true
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&rf.connections, "connections", rf.connections, "the connections file: YAML or JSON, secrets as ${ENV_NAME} (env SLUICE_CONNECTIONS)")
	fs.StringVar(&rf.filesDir, "files-dir", rf.filesDir, "the only directory file reads and writes may touch (env SLUICE_FILES_DIR)")
	fs.Func("egress-allow", "CIDRs or host names the connections may reach although private or loopback, comma-separated or repeated, e.g. 127.0.0.0/8 (env SLUICE_EGRESS_ALLOW)", func(v string) error {
		if fromEnv {
			rf.egressAllow, fromEnv = nil, false // the command line replaces the environment
		}
		rf.egressAllow = append(rf.egressAllow, splitCSV(v)...)
		return nil
	})
	fs.BoolVar(&rf.quiet, "quiet", false, "no progress line, and the summary only when the run did not complete")
	fs.Usage = func() {
		fmt.Fprint(stderr, runUsage)
		fs.PrintDefaults()
	}
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			return "", nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(files) != 1 {
		return "", nil, errors.New("usage: sluice run FLOW_FILE [--connections FILE] [--files-dir DIR] [--egress-allow CIDR,...] [--quiet] (one flow file; see sluice run -h)")
	}
	return files[0], rf, nil
}

func splitCSV(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// cmdRun runs a flow file once; see runUsage.
func cmdRun(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	usage := func(err error) error { return exitStatus{code: exitUsage, err: err} }
	name, rf, err := parseRunArgs(args, stderr, getenv)
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	if err != nil {
		return usage(err)
	}
	data, err := readFlowFile(name, stdin)
	if err != nil {
		return usage(err)
	}
	f, err := flow.Parse(data)
	var ve *flow.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			if p.Line > 0 {
				fmt.Fprintf(stderr, "%s:%s\n", name, p)
			} else {
				fmt.Fprintf(stderr, "%s: %s\n", name, p)
			}
		}
		return usage(fmt.Errorf("the flow %s is invalid: nothing was run", name))
	}
	if err != nil {
		return usage(fmt.Errorf("read %s: %w", name, err))
	}
	if f.Read == nil {
		return usage(fmt.Errorf("%s has no read: it is a dynamic flow, which runs when it is called; sluice run runs flows that read from a source", name))
	}
	if fi, err := os.Stat(rf.filesDir); err != nil || !fi.IsDir() {
		return usage(fmt.Errorf("--files-dir %s is not a directory: give the directory that file reads and writes are relative to", rf.filesDir))
	}
	if _, err := netguard.NewEgressPolicy(netguard.EgressOptions{Allow: rf.egressAllow}); err != nil {
		return usage(fmt.Errorf("--egress-allow: %w", err))
	}
	network := connection.NewGuardedNetwork(nil, rf.egressAllow, connection.HTTPAuth)
	binder, err := loadConnections(f, name, rf.connections, network, stderr, getenv)
	if err != nil {
		return usage(err)
	}

	// The first Ctrl-C cancels the run (main's context); should closing
	// the connections then hang, a second one ends the process at once.
	stopAfter := context.AfterFunc(ctx, func() { signal.Reset(os.Interrupt, syscall.SIGTERM) })
	defer stopAfter()
	out := newConsole(stdout, stderr, !rf.quiet)
	log := slog.New(slog.NewTextHandler(out.errWriter(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	sum := &summary{}
	out.start()
	res := runs.RunOnce(ctx, data, runs.OnceOptions{
		FilesDir:    rf.filesDir,
		Connections: binder,
		Logger:      log,
		OnFailure:   sum.add,
		OnLog:       out.logValue,
		OnProgress:  out.progress,
	})
	out.stop()
	elapsed := out.elapsed()
	code := exitFailed
	switch res.Status {
	case store.RunCompleted:
		code = exitCompleted
	case store.RunPartiallyFailed:
		code = exitPartial
	case store.RunCancelled:
		code = exitCancelled
	}
	if !rf.quiet || code != exitCompleted {
		sum.print(stderr, res, elapsed)
		if refusedEgress(res, sum.failures) {
			fmt.Fprintln(stderr, "hint: sluice run reaches loopback, private and link-local addresses only when --egress-allow names them, e.g. --egress-allow 127.0.0.0/8")
		}
	}
	if code == exitCompleted {
		return nil
	}
	return exitStatus{code: code}
}

// refusedEgress reports whether the egress guard stopped the run, or
// failed one of its listed records. A failure, and an error some
// connector wrapped as text, carry only the guard's wording, so that is
// looked for too.
func refusedEgress(res runs.OnceResult, failures []engine.Failure) bool {
	var eg *netguard.EgressError
	if errors.As(res.Err, &eg) {
		return true
	}
	refused := func(msg string) bool {
		return strings.Contains(msg, "egress to ") && strings.Contains(msg, " refused: ")
	}
	if refused(res.Message) {
		return true
	}
	for _, f := range failures {
		if refused(f.Error) {
			return true
		}
	}
	return false
}

// loadConnections reads the connections file and checks that it has every
// connection the flow uses, of a kind that serves the use; nil without
// --connections when the flow uses none.
func loadConnections(f *flow.Flow, flowName, file string, network *connection.GuardedNetwork, stderr io.Writer, getenv func(string) string) (runs.Binder, error) {
	refs := f.Connections()
	if file == "" {
		if len(refs) == 0 {
			return nil, nil
		}
		var uses []string
		for _, r := range refs {
			uses = append(uses, fmt.Sprintf("%q (%s)", r.Name, r.Path))
		}
		return nil, fmt.Errorf("the flow uses the connections %s: give them in --connections FILE", strings.Join(uses, ", "))
	}
	data, err := readBounded(file, connection.MaxConnectionsFileBytes)
	if err != nil {
		return nil, err
	}
	set, err := connection.ParseFile(data, getenv, network)
	var cve *connection.ValidationError
	if errors.As(err, &cve) {
		for _, p := range cve.Problems {
			if p.Field == "" {
				fmt.Fprintf(stderr, "%s: %s\n", file, p.Message)
			} else {
				fmt.Fprintf(stderr, "%s: %s: %s\n", file, p.Field, p.Message)
			}
		}
		return nil, fmt.Errorf("the connections file %s is invalid: nothing was run", file)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	ps := connection.CheckUses(refs, set.Kind, func(n string) string {
		return fmt.Sprintf("the connections file has no connection %q: add it to %s or fix the name", n, file)
	})
	if len(ps) > 0 {
		for _, p := range ps {
			fmt.Fprintf(stderr, "%s: %s: %s\n", flowName, p.Field, p.Message)
		}
		return nil, fmt.Errorf("the flow %s names connections the connections file %s does not have as needed: nothing was run", flowName, file)
	}
	warned := map[string]bool{}
	for _, r := range refs {
		if ins := set.Insecure(r.Name); len(ins) > 0 && !warned[r.Name] {
			warned[r.Name] = true
			fmt.Fprintf(stderr, "%s: warning: connection %q has TLS off or unverified (%s): fine for a test on this machine, not for production\n", file, r.Name, strings.Join(ins, ", "))
		}
	}
	return runs.FileConnections(set), nil
}

// readBounded reads a file of at most limit bytes.
func readBounded(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("cannot read the connections file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read the connections file %s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes, the most a connections file can be", name, limit)
	}
	return data, nil
}

// maxListedFailures bounds the failures the summary lists.
const maxListedFailures = 20

// summary keeps the first failures of a run for its summary.
type summary struct {
	failures []engine.Failure
	more     int64
}

func (s *summary) add(f engine.Failure) {
	if len(s.failures) < maxListedFailures {
		s.failures = append(s.failures, f)
		return
	}
	s.more++
}

var statusWords = map[string]string{
	store.RunCompleted:       "completed",
	store.RunPartiallyFailed: "partially failed",
	store.RunFailed:          "failed",
	store.RunCancelled:       "cancelled",
}

// print writes the summary: the outcome and counters, then the failures.
func (s *summary) print(w io.Writer, res runs.OnceResult, d durationText) {
	fmt.Fprintf(w, "run %s: %d read, %d succeeded, %d failed, %d skipped in %s (%s records/s)\n",
		statusWords[res.Status], res.Read, res.Succeeded, res.Failed, res.Skipped, d, d.rate(res.Read))
	if res.Message != "" && res.Status != store.RunCancelled {
		fmt.Fprintf(w, "  %s\n", oneLine(res.Message))
	}
	if len(s.failures) == 0 {
		return
	}
	fmt.Fprintln(w, "failed records (entity ID, stage: error):")
	for _, f := range s.failures {
		id := f.EntityID
		if id == "" {
			id = "(no entity ID)"
		}
		fmt.Fprintf(w, "  %s  %s: %s\n", id, f.Stage, oneLine(f.Error))
	}
	if s.more > 0 {
		fmt.Fprintf(w, "  and %d more\n", s.more)
	}
}

// oneLine keeps a message on one line of the summary.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
