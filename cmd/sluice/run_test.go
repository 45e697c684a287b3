package main

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/runs"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

// runDir is a files directory with in/orders.ndjson, and a place for flow
// and connections files beside it.
type runDir struct {
	t           *testing.T
	files, conf string
}

func newRunDir(t *testing.T) *runDir {
	d := &runDir{t: t, files: t.TempDir(), conf: t.TempDir()}
	d.file("in/orders.ndjson", `{"id": 1, "total": 5, "lines": [{"sku": "a"}]}
{"id": 2, "total": 7, "lines": []}
{"id": 3, "total": 9, "lines": [{"sku": "b"}]}
`)
	return d
}

// file writes a file under the files directory.
func (d *runDir) file(name, body string) {
	p := filepath.Join(d.files, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		d.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		d.t.Fatal(err)
	}
}

// conf writes a flow or connections file and returns its path.
func (d *runDir) config(name, body string) string {
	p := filepath.Join(d.conf, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		d.t.Fatal(err)
	}
	return p
}

const copyFlow = `name: copy
read: {file: {path: in/orders.ndjson, format: ndjson}}
entity_id: .id
steps:
  - map: '{id, total}'
write: {file: {path: out/orders.ndjson, format: ndjson}}
`

func TestRunFiles(t *testing.T) {
	d := newRunDir(t)
	valid := d.config("copy.yaml", copyFlow)
	failing := d.config("fail.yaml", `name: check
read: {file: {path: in/orders.ndjson, format: ndjson}}
entity_id: .id
steps:
  - fail: 'if (.lines | length) == 0 then "order \(.id) has no lines" else empty end'
  - log: '{id, total}'
write: {file: {path: out/checked.ndjson, format: ndjson}}
`)
	allFail := d.config("allfail.yaml", `name: none
read: {file: {path: in/orders.ndjson, format: ndjson}}
entity_id: .id
steps:
  - fail: '"no"'
write: {file: {path: out/none.ndjson, format: ndjson}}
`)
	unreadable := d.config("unreadable.yaml", strings.Replace(copyFlow, "in/orders.ndjson", "in/missing.ndjson", 1))
	invalid := d.config("invalid.yaml", `name: broken
read: {file: {path: in/orders.ndjson, format: xml}}
entity_id: .id
steps:
  - map: '{id: .id'
`)
	dynamic := d.config("dynamic.yaml", `name: callme
trigger: {dynamic: {mode: sync}}
entity_id: .id
steps:
  - respond: '{ok: true}'
`)
	usesConn := d.config("conn.yaml", `name: to-db
read: {file: {path: in/orders.ndjson, format: ndjson}}
entity_id: .id
write: {connection: db, sql: {table: orders, mode: insert}}
`)
	files := []string{"--files-dir", d.files}
	cases := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		{"completes", append([]string{"run", valid}, files...), 0, nil,
			[]string{"run completed: 3 read, 3 succeeded, 0 failed, 0 skipped in "}},
		{"flags before the file", append(append([]string{"run"}, files...), "--quiet", valid), 0, nil, nil},
		{"a failing record", append([]string{"run", failing}, files...), 1,
			[]string{`{"entity_id":"1","step":"steps[1]","value":{"id":1,"total":5}}`, `{"entity_id":"3","step":"steps[1]","value":{"id":3,"total":9}}`},
			[]string{"run partially failed: 3 read, 2 succeeded, 1 failed, 0 skipped", "1 of 3 records failed", "  2  steps[0].fail: order 2 has no lines"}},
		{"every record fails", append([]string{"run", allFail}, files...), 2, nil,
			[]string{"run failed: 3 read, 0 succeeded, 3 failed", "all 3 records failed", "  1  steps[0].fail: no", "  3  steps[0].fail: no"}},
		{"an unreadable source", append([]string{"run", unreadable}, files...), 2, nil,
			[]string{"run failed: 0 read", "in/missing.ndjson"}},
		{"an invalid flow", append([]string{"run", invalid}, files...), 3, nil,
			[]string{invalid + `:2:47: read.file.format: "xml" is not allowed here`, invalid + ":5:19: steps[0].map: jq syntax error", "is invalid: nothing was run"}},
		{"a dynamic flow", append([]string{"run", dynamic}, files...), 3, nil, []string{"dynamic flow"}},
		{"connections needed", append([]string{"run", usesConn}, files...), 3, nil, []string{`"db" (write.connection)`, "--connections FILE"}},
		{"no flow file", []string{"run", "--files-dir", d.files}, 3, nil, []string{"usage: sluice run FLOW_FILE"}},
		{"two flow files", []string{"run", valid, valid}, 3, nil, []string{"usage: sluice run FLOW_FILE"}},
		{"a missing flow file", []string{"run", filepath.Join(d.conf, "nope.yaml")}, 3, nil, []string{"no such file"}},
		{"a bad flag", []string{"run", valid, "--no-such"}, 3, nil, []string{"no-such"}},
		{"no files directory", []string{"run", valid, "--files-dir", filepath.Join(d.conf, "nope")}, 3, nil, []string{"--files-dir", "is not a directory"}},
		{"a bad egress allowlist", append([]string{"run", valid, "--egress-allow", "not a cidr/99"}, files...), 3, nil, []string{"--egress-allow"}},
		{"help", []string{"run", "-h"}, 0, nil, []string{"Usage: sluice run FLOW_FILE", "Exit status: 0 the run completed; 1 it partially failed", "\n3 bad usage", "--connections"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runEnv(t, nil, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
			for _, want := range tc.stdout {
				if !strings.Contains(out, want+"\n") {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			for _, want := range tc.stderr {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errOut)
				}
			}
		})
	}
	if code, out, errOut := runEnv(t, nil, "run", valid, "--quiet", "--files-dir", d.files); code != 0 || out+errOut != "" {
		t.Errorf("--quiet on success: exit %d, output %q", code, out+errOut)
	}
	got, err := os.ReadFile(filepath.Join(d.files, "out/orders.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "{\"id\":1,\"total\":5}\n{\"id\":2,\"total\":7}\n{\"id\":3,\"total\":9}\n" {
		t.Errorf("out/orders.ndjson:\n%s", got)
	}
	if got, err := os.ReadFile(filepath.Join(d.files, "out/checked.ndjson")); err != nil || !strings.Contains(string(got), `"id":3`) || strings.Contains(string(got), `"id":2`) {
		t.Errorf("out/checked.ndjson: %s %v", got, err)
	}
}

// TestRunSummaryBounds: at most 20 failures are listed, then how many
// more there were.
func TestRunSummaryBounds(t *testing.T) {
	s := &summary{}
	for i := range 25 {
		s.add(engine.Failure{EntityID: fmt.Sprint(i), Stage: "write", Error: "refused:\nline two"})
	}
	s.add(engine.Failure{Stage: "read", Error: "bad"})
	var b bytes.Buffer
	s.print(&b, runsResult(26), durationText(2*time.Second))
	out := b.String()
	if strings.Count(out, "  write: refused: line two\n") != 20 || !strings.Contains(out, "  19  write:") || strings.Contains(out, "  20  write:") ||
		!strings.Contains(out, "  and 6 more\n") || !strings.Contains(out, "in 2s (13 records/s)") {
		t.Errorf("summary:\n%s", out)
	}
	if got := runProgressLine(engine.Counters{Read: 10, Succeeded: 7, Failed: 2, Skipped: 1}, durationText(time.Second)); got != "read 10 · succeeded 7 · failed 2 · skipped 1 · 10 records/s · 1s" {
		t.Errorf("progress line %q", got)
	}
}

func TestRunConnectionsFile(t *testing.T) {
	d := newRunDir(t)
	flowFile := d.config("flow.yaml", `name: to-db
read: {file: {path: in/orders.ndjson, format: ndjson}}
entity_id: .id
write: {connection: db, sql: {table: orders, mode: insert}}
`)
	httpUse := d.config("http.yaml", `name: to-api
read: {connection: db, request: {method: GET, path: /orders}, records: ".[]"}
entity_id: .id
`)
	pg := `db:
  kind: postgres
  settings: {host: 127.0.0.1, database: shop, user: sluice, sslmode: disable}
  secrets: {password: %s}
`
	cases := []struct {
		name   string
		flow   string
		conns  string
		env    map[string]string
		stderr []string
	}{
		{"a literal password", flowFile, fmt.Sprintf(pg, "Hunter2-Literal"), nil,
			[]string{`db.secrets.password: is a secret, and secrets are not written in the connections file: put it in an environment variable and write "${DB_PASSWORD}" here`}},
		{"a literal token", flowFile, "db:\n  kind: http\n  settings: {base_url: https://api.example.com}\n  auth: {type: bearer, token: Hunter2-Literal}\n", nil,
			[]string{"db.auth.token: is a secret"}},
		{"a missing variable", flowFile, fmt.Sprintf(pg, `"${SHOP_DB_PASSWORD}"`), nil,
			[]string{"db.secrets.password: the environment variable SHOP_DB_PASSWORD is not set"}},
		{"the API's validation", flowFile, "db:\n  kind: postgres\n  settings: {host: 127.0.0.1, port: 70000, user: u, colour: blue}\n", nil,
			[]string{"db.settings.database: is required", "db.settings.port: must be a whole number between 1 and 65535", "db.settings.colour: is not a setting here"}},
		{"an unknown kind", flowFile, "db: {kind: oracle}\n", nil, []string{"db.kind: must be one of http, mysql, postgres"}},
		{"not YAML", flowFile, "db: [\n", nil, []string{"is not valid YAML or JSON"}},
		{"no such connection", flowFile, "other:\n  kind: postgres\n  settings: {host: h, database: d, user: u}\n", nil,
			[]string{`write.connection: the connections file has no connection "db": add it to`}},
		{"a connection of the wrong kind", httpUse, fmt.Sprintf(pg, `"${PW}"`), map[string]string{"PW": "x"},
			[]string{`read.connection: connection "db" is a postgres connection, and an http request needs an http connection`}},
		{"a missing file", flowFile, "", nil, []string{"cannot read the connections file"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conns := filepath.Join(d.conf, "none.yaml")
			if tc.conns != "" {
				conns = d.config("conns.yaml", tc.conns)
			}
			code, out, errOut := runEnv(t, tc.env, "run", tc.flow, "--connections", conns, "--files-dir", d.files)
			if code != 3 {
				t.Fatalf("exit %d (want 3)\nstdout: %s\nstderr: %s", code, out, errOut)
			}
			for _, want := range tc.stderr {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errOut)
				}
			}
			if strings.Contains(out+errOut, "Hunter2") {
				t.Errorf("a literal secret was echoed:\n%s", errOut)
			}
		})
	}
}

// pgTarget is a fresh PostgreSQL database on loopback with a table to
// write to, and the connections file reaching it with the password from
// the environment (the local server trusts loopback, so the password only
// proves that the reference is read).
func pgTarget(t *testing.T, d *runDir) (db *sql.DB, conns string) {
	t.Helper()
	hasPG := false
	for _, dl := range storetest.Dialects(t) {
		hasPG = hasPG || dl == store.Postgres
	}
	if !hasPG {
		t.Skip("PostgreSQL unreachable")
	}
	u, err := url.Parse(storetest.CreateDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	db, err = sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE orders (id bigint PRIMARY KEY, total bigint NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	conns = d.config("conns.yaml", fmt.Sprintf(`db:
  kind: postgres
  settings: {host: %s, port: %s, database: %s, user: %s, sslmode: disable}
  secrets: {password: "${SLUICE_TEST_DB_PASSWORD}"}
`, u.Hostname(), u.Port(), strings.TrimPrefix(u.Path, "/"), u.User.Username()))
	return db, conns
}

// TestRunPostgres: a flow writing to PostgreSQL on loopback runs when
// --egress-allow names loopback, and is refused by the egress guard
// without it.
func TestRunPostgres(t *testing.T) {
	d := newRunDir(t)
	db, conns := pgTarget(t, d)
	flowFile := d.config("flow.yaml", `name: to-db
read: {file: {path: in/orders.ndjson, format: ndjson}}
entity_id: .id
steps:
  - map: '{id, total}'
write: {connection: db, sql: {table: orders, mode: upsert, key: [id]}}
on_error: {retries: 0}
`)
	env := map[string]string{"SLUICE_TEST_DB_PASSWORD": "not-needed-on-trust"}
	code, out, errOut := runEnv(t, env, "run", flowFile, "--connections", conns, "--files-dir", d.files, "--egress-allow", "127.0.0.0/8")
	if code != 0 || !strings.Contains(errOut, "run completed: 3 read, 3 succeeded") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	var n, sum int
	if err := db.QueryRow(`SELECT COUNT(*), SUM(total) FROM orders`).Scan(&n, &sum); err != nil || n != 3 || sum != 21 {
		t.Fatalf("orders: %d rows, total %d, %v", n, sum, err)
	}

	// The environment's allowlist, as for serve.
	env["SLUICE_EGRESS_ALLOW"] = "127.0.0.0/8"
	if code, out, errOut := runEnv(t, env, "run", flowFile, "--connections", conns, "--files-dir", d.files); code != 0 {
		t.Fatalf("with SLUICE_EGRESS_ALLOW: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	delete(env, "SLUICE_EGRESS_ALLOW")

	code, out, errOut = runEnv(t, env, "run", flowFile, "--connections", conns, "--files-dir", d.files)
	if code != 2 || !strings.Contains(errOut, `egress to "127.0.0.1" refused: loopback address`) ||
		!strings.Contains(errOut, "hint: sluice run reaches loopback, private and link-local addresses only when --egress-allow names them") {
		t.Fatalf("without --egress-allow: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if strings.Contains(out+errOut, "not-needed-on-trust") {
		t.Fatalf("the password was echoed:\n%s", errOut)
	}
}

// TestRunInterrupt: Ctrl-C cancels a run cleanly, with its summary and
// exit status 130. The source is a query that sleeps, so the run is
// surely going when the signal comes.
func TestRunInterrupt(t *testing.T) {
	d := newRunDir(t)
	db, conns := pgTarget(t, d)
	flowFile := d.config("slow.yaml", `name: slow
read:
  connection: db
  sql: {query: "SELECT g.id FROM generate_series(1, 3) AS g(id), LATERAL (SELECT pg_sleep(600)) AS sluice_test_sleep", cursor_column: id}
entity_id: .id
write: {file: {path: out/slow.ndjson, format: ndjson}}
`)
	cmd := exec.Command(os.Args[0], "run", flowFile, "--connections", conns, "--files-dir", d.files, "--egress-allow", "127.0.0.0/8")
	cmd.Env = append(os.Environ(), "SLUICE_TEST_AS_MAIN=1", "SLUICE_TEST_DB_PASSWORD=x")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(60 * time.Second) // hang guard only
	for {
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE '%sluice_test_sleep%' AND pid <> pg_backend_pid()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run never queried the source:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second): // hang guard only
		t.Fatalf("sluice run did not end after SIGINT:\n%s", stderr.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("exit %v (want status 130)\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "run cancelled: 0 read, 0 succeeded, 0 failed, 0 skipped") {
		t.Fatalf("no summary:\n%s", stderr.String())
	}
}

func runsResult(read int64) runs.OnceResult {
	return runs.OnceResult{Counters: engine.Counters{Read: read, Failed: read}, Status: store.RunFailed, Message: fmt.Sprintf("all %d records failed", read)}
}

// TestRunHTTP: an http read through the connections file, signed with a
// token from the environment, from an API on loopback.
func TestRunHTTP(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer token-from-env" {
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"orders": [{"id": 1, "total": 5}, {"id": 2, "total": 7}]}`)
	}))
	defer api.Close()
	d := newRunDir(t)
	conns := d.config("conns.yaml", fmt.Sprintf("api:\n  kind: http\n  settings: {base_url: %q}\n  auth: {type: bearer, token: \"${API_TOKEN}\"}\n", api.URL))
	flowFile := d.config("flow.yaml", `name: from-api
read: {connection: api, request: {method: GET, path: /orders}, records: ".orders[]"}
entity_id: .id
write: {file: {path: out/api.ndjson, format: ndjson}}
`)
	code, out, errOut := runEnv(t, map[string]string{"API_TOKEN": "token-from-env"}, "run", flowFile, "--connections", conns, "--files-dir", d.files, "--egress-allow", "127.0.0.0/8")
	if code != 0 || !strings.Contains(errOut, "run completed: 2 read, 2 succeeded") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if got, err := os.ReadFile(filepath.Join(d.files, "out/api.ndjson")); err != nil || string(got) != "{\"id\":1,\"total\":5}\n{\"id\":2,\"total\":7}\n" {
		t.Errorf("out/api.ndjson: %q %v", got, err)
	}
	code, out, errOut = runEnv(t, map[string]string{"API_TOKEN": "token-from-env"}, "run", flowFile, "--connections", conns, "--files-dir", d.files)
	if code != 2 || !strings.Contains(errOut, "refused: loopback address") || !strings.Contains(errOut, "hint: ") || strings.Contains(out+errOut, "token-from-env") {
		t.Fatalf("without --egress-allow: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}
