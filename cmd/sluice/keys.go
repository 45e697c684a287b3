package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/app"
	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/secrets"
)

const keysUsage = "usage: sluice keys rotate [--no-wait] | sluice keys status  (with --data-dir or --database-url, and the master key in SLUICE_MASTER_KEY or --master-key-file)"

func cmdKeys(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return usageError{errors.New(keysUsage)}
	}
	switch args[0] {
	case "rotate":
		return cmdKeysRotate(ctx, args[1:], stdout, stderr, getenv)
	case "status":
		return cmdKeysStatus(ctx, args[1:], stdout, stderr, getenv)
	}
	return usageError{errors.New(keysUsage)}
}

// cmdKeysRotate adds a key term and, unless --no-wait, re-encrypts every
// stored secret under it before returning, printing the progress. The
// re-encryption is a queue job: this process works the queue while it
// waits, and so does any running serve or worker, so an interrupted wait
// loses nothing.
func cmdKeysRotate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	noWait := false
	var rest []string
	for _, a := range args {
		switch a {
		case "--no-wait", "-no-wait", "--no-wait=true", "-no-wait=true":
			noWait = true
		case "--no-wait=false", "-no-wait=false":
			noWait = false
		default:
			rest = append(rest, a)
		}
	}
	c, err := parse("keys rotate", config.DB|config.Logging|config.Keys, rest, stderr, getenv)
	if err != nil {
		return err
	}
	a, err := app.New(ctx, c, app.NewLogger(c, stderr), !noWait, app.Options{})
	if err != nil {
		return err
	}
	rot, err := a.Keyring.Rotate(ctx, audit.Event{ActorEmail: "command line", IP: "local"})
	if err != nil {
		return errors.Join(err, a.Close())
	}
	fmt.Fprintf(stdout, "key term %d created: new secrets are sealed under it; older terms still decrypt\n", rot.Term)
	if noWait {
		fmt.Fprintln(stdout, "re-encrypting the stored secrets is queued: a running `sluice serve` or `sluice worker` does it; `sluice keys status` shows how far it got")
		return a.Close()
	}
	if err := a.Queue.Start(ctx); err != nil {
		return errors.Join(err, a.Close())
	}
	werr := waitRotation(ctx, a.Keyring, rot.Term, stdout)
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return errors.Join(werr, a.Queue.Stop(sctx), a.Close())
}

// waitRotation prints the rotation's progress until it finishes.
func waitRotation(ctx context.Context, k *secrets.Keyring, term int, stdout io.Writer) error {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for {
		rs, err := k.Rotation(ctx, term)
		if err != nil && ctx.Err() == nil {
			return err
		}
		if err == nil {
			if line := progressLine(rs); line != last {
				fmt.Fprintln(stdout, line)
				last = line
			}
			if rs.FinishedAt != nil {
				fmt.Fprintf(stdout, "rotation to term %d finished: every stored secret is sealed under it\n", term)
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped waiting: the rotation to term %d goes on in the next `sluice serve` or `sluice worker`", term)
		case <-tick.C:
		}
	}
}

// progressLine is "re-encrypting under term 2: connections 200/3000, users 0/5".
func progressLine(rs *secrets.RotationStatus) string {
	names := make([]string, 0, len(rs.Tables))
	for n := range rs.Tables {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := []string{}
	for _, n := range names {
		tp := rs.Tables[n]
		p := fmt.Sprintf("%s %d/%d", n, tp.Done, tp.Total)
		if tp.Failed > 0 {
			p += fmt.Sprintf(" (%d do not decrypt)", tp.Failed)
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		parts = append(parts, "starting")
	}
	return fmt.Sprintf("re-encrypting under term %d: %s", rs.Term, strings.Join(parts, ", "))
}

// cmdKeysStatus prints the keyring's terms, its rotations and how many
// stored secrets each term sealed.
func cmdKeysStatus(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	c, err := parse("keys status", config.DB|config.Logging|config.Keys, args, stderr, getenv)
	if err != nil {
		return err
	}
	log := app.NewLogger(c, stderr)
	st, err := app.OpenStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	pending, err := st.CheckSchema(ctx)
	if err != nil {
		return err
	}
	if pending > 0 {
		return fmt.Errorf("the database has %d migrations pending: run `sluice migrate` first", pending)
	}
	k, err := app.OpenKeyring(ctx, c, st, log)
	if err != nil {
		return err
	}
	s, err := k.Status(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "current term: %d\n", s.CurrentTerm)
	fmt.Fprintln(stdout, "terms:")
	for _, t := range s.Terms {
		fmt.Fprintf(stdout, "  %d  created %s\n", t.Term, t.CreatedAt.Format(time.RFC3339))
	}
	fmt.Fprintln(stdout, "rotations:")
	if len(s.Rotations) == 0 {
		fmt.Fprintln(stdout, "  none")
	}
	for _, r := range s.Rotations {
		state := "running"
		if r.FinishedAt != nil {
			state = "finished " + r.FinishedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(stdout, "  term %d  started %s  %s\n", r.Term, r.StartedAt.Format(time.RFC3339), state)
		fmt.Fprintf(stdout, "    %s\n", progressLine(&r))
	}
	fmt.Fprintln(stdout, "stored secrets by term:")
	for _, ts := range s.Secrets {
		terms := make([]int, 0, len(ts.ByTerm))
		for t := range ts.ByTerm {
			terms = append(terms, t)
		}
		sort.Ints(terms)
		parts := []string{}
		for _, t := range terms {
			if t == 0 {
				parts = append(parts, fmt.Sprintf("not yet sealed: %d", ts.ByTerm[t]))
			} else {
				parts = append(parts, fmt.Sprintf("term %d: %d", t, ts.ByTerm[t]))
			}
		}
		if len(parts) == 0 {
			parts = append(parts, "none")
		}
		fmt.Fprintf(stdout, "  %s: %s\n", ts.Table, strings.Join(parts, ", "))
	}
	return nil
}
