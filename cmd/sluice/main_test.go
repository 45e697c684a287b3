package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

// TestMain lets a test re-run this binary as the sluice command, so the
// real signal handling of main is tested in a real process.
func TestMain(m *testing.M) {
	if os.Getenv("SLUICE_TEST_AS_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func noEnv(string) string { return "" }

func runCmd(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errb, noEnv)
	return code, out.String(), errb.String()
}

func TestCommands(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name     string
		stdin    string
		args     []string
		code     int
		contains string
	}{
		{"no command", "", nil, 2, "Usage"},
		{"unknown command", "", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"version", "", []string{"version"}, 0, "sluice"},
		{"migrate fresh", "", []string{"migrate", "--data-dir", dir}, 0, "applied migrations"},
		{"migrate again", "", []string{"migrate", "--data-dir", dir}, 0, "up to date"},
		{"bad flag", "", []string{"migrate", "--no-such-flag"}, 2, "no-such-flag"},
		{"mysql url refused", "", []string{"migrate", "--database-url", "mysql://root:hunter2@x/db"}, 2, "only postgres://"},
		{"create admin", "correct horse battery staple\n", []string{"admin", "create-user", "--email", "Ann@Example.com", "--admin", "--data-dir", dir}, 0, "created instance administrator ann@example.com"},
		{"create user", "another long passphrase\n", []string{"admin", "create-user", "--email=bob@example.com", "--name", "Bob", "--data-dir", dir}, 0, "created user bob@example.com"},
		{"duplicate user", "another long passphrase\n", []string{"admin", "create-user", "--email", "bob@example.com", "--data-dir", dir}, 1, "already exists"},
		{"weak password", "password1234\n", []string{"admin", "create-user", "--email", "c@example.com", "--data-dir", dir}, 2, "--password"},
		{"short password", "short\n", []string{"admin", "create-user", "--email", "c@example.com", "--data-dir", dir}, 2, "12 characters"},
		{"no password", "", []string{"admin", "create-user", "--email", "c@example.com", "--data-dir", dir}, 2, "no password on stdin"},
		{"bad email", "correct horse battery staple\n", []string{"admin", "create-user", "--email", "not-an-email", "--data-dir", dir}, 2, "--email"},
		{"no email", "", []string{"admin", "create-user", "--data-dir", dir}, 2, "--email is required"},
		{"worker needs postgres", "", []string{"worker", "--data-dir", dir}, 2, "needs --database-url postgres"},
		{"audit verify", "", []string{"audit", "verify", "--data-dir", dir}, 0, `"intact":true`},
		{"public address without TLS", "", []string{"serve", "--data-dir", dir, "--addr", "0.0.0.0:0"}, 1, "TLS is off"},
		{"half TLS", "", []string{"serve", "--data-dir", dir, "--tls-cert", "x.pem"}, 2, "must be given together"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, tc.stdin, tc.args...)
			if code != tc.code || !strings.Contains(out+errOut, tc.contains) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant output containing %q", code, tc.code, out, errOut, tc.contains)
			}
			if strings.Contains(out+errOut, "hunter2") {
				t.Fatalf("a database password was echoed: %s%s", out, errOut)
			}
		})
	}
}

func TestEnvironmentVariables(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"SLUICE_DATA_DIR": dir}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"migrate"}, strings.NewReader(""), &out, &errb, func(k string) string { return env[k] })
	if code != 0 {
		t.Fatalf("migrate with SLUICE_DATA_DIR: %d %s", code, errb.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "sluice.db")); err != nil {
		t.Fatalf("SLUICE_DATA_DIR was ignored: %v", err)
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := runCmd(t, "", "migrate", "--data-dir", dir); code != 0 {
		t.Fatal(errOut)
	}
	st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "sluice.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.WriteDB().Exec(`INSERT INTO sluice_schema_migrations (version, name, applied_at) VALUES (999, 'future', CURRENT_TIMESTAMP)`)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"serve", "--addr", "127.0.0.1:0"}, {"migrate"}} {
		code, _, errOut := runCmd(t, "", append(args, "--data-dir", dir)...)
		if code != 1 || !strings.Contains(errOut, "schema version 999") || !strings.Contains(errOut, "newer") {
			t.Fatalf("%v on a newer schema: exit %d, %s", args, code, errOut)
		}
	}
}

// sluiceProcess starts this test binary as `sluice args...`.
func sluiceProcess(t *testing.T, args ...string) (*exec.Cmd, *bufio.Reader, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SLUICE_TEST_AS_MAIN=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, bufio.NewReader(stdout), &stderr
}

var linkRE = regexp.MustCompile(`(http://[0-9.:]+)/setup\?token=[A-Za-z0-9_-]+`)

// TestServeFreshAndSIGTERM: a fresh data dir gets a database, a setup link
// is printed, the server answers, and SIGTERM shuts it down cleanly.
func TestServeFreshAndSIGTERM(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			cmd, stdout, stderr := sluiceProcess(t, "serve", "--addr", "127.0.0.1:0", "--data-dir", dir)
			base := ""
			deadline := time.Now().Add(60 * time.Second) // hang guard only
			for base == "" && time.Now().Before(deadline) {
				line, err := stdout.ReadString('\n')
				if m := linkRE.FindStringSubmatch(line); m != nil {
					base = m[1]
				}
				if err != nil {
					t.Fatalf("serve exited before printing the setup link: %v\n%s", err, stderr.String())
				}
			}
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			resp, err := http.Get(base + "/readyz")
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("readyz: %v %v", resp, err)
			}
			resp.Body.Close()
			if fi, err := os.Stat(filepath.Join(dir, "sluice.db")); err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("database file: %v, mode %v (want 0600)", err, fi)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("exit after %v: %v\n%s", sig, err, stderr.String())
			}
			if !strings.Contains(stderr.String(), "shutting down") {
				t.Fatalf("no orderly shutdown logged:\n%s", stderr.String())
			}
			st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "sluice.db"), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			var ok string
			if err := st.WriteDB().QueryRow(`PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
				t.Fatalf("integrity_check = %q, %v", ok, err)
			}
		})
	}
}

// TestWorkerNodeOnPostgres: `sluice worker` runs the jobs of a shared
// PostgreSQL database that an API node without workers enqueues.
func TestWorkerNodeOnPostgres(t *testing.T) {
	hasPG := false
	for _, d := range storetest.Dialects(t) {
		hasPG = hasPG || d == store.Postgres
	}
	if !hasPG {
		t.Skip("PostgreSQL unreachable")
	}
	url := storetest.CreateDatabase(t)
	if code, _, errOut := runCmd(t, "", "migrate", "--database-url", url); code != 0 {
		t.Fatal(errOut)
	}
	// An expired session for the cleanup job to delete.
	ctx := context.Background()
	st, err := store.OpenPostgres(ctx, url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u := &store.User{Email: "w@example.com", PasswordHash: "x"}
	if err := st.Writer().CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	past := time.Now().UTC().Add(-time.Hour)
	if err := st.Writer().CreateSession(ctx, &store.Session{TokenHash: "h", UserID: u.ID, CreatedAt: past, LastSeenAt: past,
		IdleExpiresAt: past, AbsoluteExpiresAt: past}); err != nil {
		t.Fatal(err)
	}
	// Its own data directory: without a master key the worker generates a
	// development key file there (not in the source tree).
	cmd, _, stderr := sluiceProcess(t, "worker", "--database-url", url, "--data-dir", t.TempDir())
	deadline := time.Now().Add(60 * time.Second) // hang guard only
	for {
		var n int
		if err := st.WriteDB().QueryRow(`SELECT COUNT(*) FROM sessions`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the worker node did not run the cleanup job:\n%s", stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("worker exit: %v\n%s", err, stderr.String())
	}
}
