package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/app"
	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/store"
)

func parse(name string, set config.Set, args []string, stderr io.Writer, getenv func(string) string) (*config.Config, error) {
	c, fs, err := config.Parse(name, set, args, getenv)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		fs.SetOutput(stderr)
		return nil, usageError{err}
	}
	return c, nil
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	c, err := parse("serve", config.DB|config.Server|config.Worker|config.Logging|config.Keys, args, stderr, getenv)
	if err != nil {
		return err
	}
	log := app.NewLogger(c, stderr)
	if c.NoWorker && !c.Postgres() {
		log.Warn("--no-worker on SQLite: no process will run jobs for this database; schedules and runs will wait")
	}
	a, err := app.New(ctx, c, log, !c.NoWorker, app.Options{})
	if err != nil {
		return err
	}
	a.Out = stdout
	if err := a.BuildServer(); err != nil {
		a.Close()
		return err
	}
	if err := a.Listen(); err != nil {
		a.Close()
		return err
	}
	if err := a.PrintSetupLink(ctx); err != nil {
		a.Close()
		return err
	}
	return a.Serve(ctx)
}

func cmdWorker(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) error {
	c, err := parse("worker", config.DB|config.Worker|config.Logging|config.Keys, args, stderr, getenv)
	if err != nil {
		return err
	}
	if !c.Postgres() {
		return usageError{errors.New("sluice worker needs --database-url postgres://...: worker nodes share a PostgreSQL database; with SQLite, `sluice serve` already runs the workers")}
	}
	a, err := app.New(ctx, c, app.NewLogger(c, stderr), true, app.Options{})
	if err != nil {
		return err
	}
	return a.Work(ctx)
}

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	c, err := parse("migrate", config.DB, args, stderr, getenv)
	if err != nil {
		return err
	}
	st, err := app.OpenStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	applied, err := app.Migrate(ctx, st)
	if err != nil {
		return err
	}
	v, err := st.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintf(stdout, "database is up to date (schema version %d)\n", v)
	} else {
		fmt.Fprintf(stdout, "applied migrations %v; schema version %d\n", applied, v)
	}
	return nil
}

func cmdAdmin(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || args[0] != "create-user" {
		return usageError{errors.New("usage: sluice admin create-user --email E [--name N] [--admin] (the password is read from stdin)")}
	}
	// The user flags are parsed first; whatever is left is the usual
	// database flags.
	var email, name string
	var admin bool
	rest := []string{}
	for i := 1; i < len(args); i++ {
		a := args[i]
		key, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch key {
		case "email", "name":
			if !hasVal {
				if i+1 >= len(args) {
					return usageError{fmt.Errorf("--%s needs a value", key)}
				}
				i++
				val = args[i]
			}
			if key == "email" {
				email = val
			} else {
				name = val
			}
		case "admin":
			admin = !hasVal || val == "true"
		default:
			rest = append(rest, a)
		}
	}
	if email == "" {
		return usageError{errors.New("--email is required")}
	}
	c, err := parse("admin create-user", config.DB|config.Logging|config.Keys, rest, stderr, getenv)
	if err != nil {
		return err
	}
	password, err := readPassword(stdin, stderr)
	if err != nil {
		return err
	}
	st, err := app.OpenStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := app.Migrate(ctx, st); err != nil {
		return err
	}
	log := app.NewLogger(c, stderr)
	// The keyring is opened (and the master key checked) here too: the
	// account service seals two-factor secrets with it.
	keyring, err := app.OpenKeyring(ctx, c, st, log)
	if err != nil {
		return err
	}
	svc := account.NewService(st, account.Config{Logger: log, Keyring: keyring})
	u, err := svc.CreateUser(ctx, nil, account.NewUser{Email: email, Name: name, Password: password, Admin: admin}, account.Client{IP: "local"})
	if err != nil {
		var invalid *account.InvalidInputError
		if errors.As(err, &invalid) {
			return usageError{fmt.Errorf("--%s: %s", invalid.Field, invalid.Message)}
		}
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("a user with email %s already exists", strings.ToLower(email))
		}
		return err
	}
	role := "user"
	if u.Admin {
		role = "instance administrator"
	}
	fmt.Fprintf(stdout, "created %s %s (id %s)\n", role, u.Email, u.ID)
	return nil
}

// readPassword reads the password from stdin: without echo from a
// terminal, else the first line of the pipe.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		return string(b), nil
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", usageError{errors.New("no password on stdin: pipe it in, e.g. `printf '%s\\n' \"$PASSWORD\" | sluice admin create-user --email you@example.com`")}
	}
	return line, nil
}

func cmdAudit(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || args[0] != "verify" {
		return usageError{errors.New("usage: sluice audit verify [--data-dir D | --database-url U]")}
	}
	c, err := parse("audit verify", config.DB, args[1:], stderr, getenv)
	if err != nil {
		return err
	}
	st, err := app.OpenStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.CheckSchema(ctx); err != nil {
		return err
	}
	rep, err := audit.Verify(ctx, st.Reader())
	if err != nil {
		return err
	}
	b, _ := json.Marshal(rep)
	fmt.Fprintln(stdout, string(b))
	if !rep.Intact {
		return fmt.Errorf("the activity log is broken at event %d: %s", rep.BrokenAt, rep.Reason)
	}
	return nil
}
