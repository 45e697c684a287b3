package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/store"
)

// canaryMark starts every canary: Sluice's own database, data directory
// and logs must not hold it anywhere (a value cut short by an excerpt
// still starts with it).
const canaryMark = "CNRY-"

// newCanary is a unique value to plant in source records.
func newCanary(t *testing.T) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return canaryMark + hex.EncodeToString(b)
}

// canarySteps fail a record by its kind: "jq" on a jq error previewing
// .name, "obj" on one previewing .email, "fail" on a fail step quoting
// .name; other records pass on as {id, name, email}.
var canarySteps = []any{
	map[string]any{"fail": `if .kind == "fail" then "customer " + .name + " is blocked" else empty end`},
	map[string]any{"map": `if .kind == "jq" then (.name | keys) elif .kind == "obj" then .email.x else {id, name, email} end`},
}

// TestCanaries is the proof of data minimization (issue 7, item 8): with
// console logs off, flows that succeed, fail on jq errors, fail steps
// and a destination's unique key, get reprocessed and are called
// dynamically (sync and async) leave none of their records' values in
// Sluice's database, data directory or logs. The destination databases
// hold them: that is the user's data where it belongs.
func TestCanaries(t *testing.T) {
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, ann := startAdmin(t, apptest.Options{Dialect: d, Args: loopbackAllowed.Args})
		pid := mustProject(t, ann, "Canaries")
		pipe := mustPipe(t, ann, pid, "customers")
		var failures []string // every stored error, to check they still say what went wrong

		for _, dst := range []struct {
			name string
			db   func(*testing.T) *sqlRunDB
		}{{"PostgreSQL", postgresRunDB}, {"MariaDB", mariaRunDB}} {
			db := dst.db(t)
			failures = append(failures, canarySQLRun(t, ann, pid, pipe, dst.name, db)...)
		}
		failures = append(failures, canaryCalls(t, inst, ann, pid, pipe)...)

		for _, want := range []string{"keys cannot be applied to: string", "expected an object but got: string", "customer [value] is blocked"} {
			if !strings.Contains(strings.Join(failures, "\n"), want) {
				t.Errorf("no stored error says %q; they are:\n%s", want, strings.Join(failures, "\n"))
			}
		}

		// Everything Sluice keeps, after it stopped (so the journal and
		// the WAL are written out).
		if err := inst.Stop(); err != nil {
			t.Fatal(err)
		}
		scanFor(t, "the log", []byte(inst.Logs.String()+inst.Out.String()))
		scanDataDir(t, inst)
		if d == store.Postgres {
			out, err := exec.Command("pg_dump", "--data-only", "--no-owner", inst.Where).Output()
			if err != nil {
				t.Fatalf("pg_dump: %v", err)
			}
			if !bytes.Contains(out, []byte("run_failures")) {
				t.Fatalf("the dump has no run_failures table: %.300s", out)
			}
			scanFor(t, "the PostgreSQL dump", out)
		}
	})
}

// canarySQLRun runs a sql → steps → sql flow over five canary rows: one
// succeeds, three fail in the steps, one at the destination's unique key.
// Fixed at the source and the destination, the failures are reprocessed.
// It returns the stored errors.
func canarySQLRun(t *testing.T, ann *apptest.Client, pid, pipe, name string, db *sqlRunDB) []string {
	t.Helper()
	ctx := context.Background()
	c := newCanary(t)
	varchar := "text"
	if db.kind == "mysql" {
		varchar = "varchar(80)"
	}
	for _, q := range []string{
		`CREATE TABLE people (id int PRIMARY KEY, name ` + varchar + `, email ` + varchar + `, kind ` + varchar + `)`,
		`CREATE TABLE customers (id int PRIMARY KEY, name ` + varchar + `, email ` + varchar + `, CONSTRAINT customers_email_key UNIQUE (email))`,
		`INSERT INTO people (id, name, email, kind) VALUES
			(1, '` + c + `-ok', '` + c + `-ok@example.com', 'ok'),
			(2, '` + c + `-jq', '` + c + `-jq@example.com', 'jq'),
			(3, '` + c + `-obj', '` + c + `-obj@example.com', 'obj'),
			(4, '` + c + `-fail', '` + c + `-fail@example.com', 'fail'),
			(5, '` + c + `-dup', '` + c + `-dup@example.com', 'ok')`,
		// Row 5's e-mail is taken at the destination.
		`INSERT INTO customers (id, name, email) VALUES (100, 'someone', '` + c + `-dup@example.com')`,
	} {
		if _, err := db.db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	conn := "db-" + db.kind
	r := ann.Do(t, "POST", "/api/v1/projects/"+pid+"/connections", map[string]any{"name": conn, "kind": db.kind, "settings": db.settings})
	wantStatus(t, r, http.StatusCreated, "create connection")
	flow := mustFlow(t, ann, pid, pipe, map[string]any{
		"name":      "people-" + db.kind,
		"read":      map[string]any{"connection": conn, "sql": map[string]any{"query": "SELECT id, name, email, kind FROM people", "cursor_column": "id", "key": "id"}},
		"entity_id": ".id",
		"steps": append(append([]any{}, canarySteps...),
			map[string]any{"write": map[string]any{"connection": conn, "sql": map[string]any{"table": "customers", "mode": "insert"}}}),
	})
	run := startRun(t, ann, pid, pipe, flow)
	r = waitRun(t, ann, pid, run)
	if got, want := records(r), map[string]float64{"read": 5, "succeeded": 1, "failed": 4, "skipped": 0}; !equalCounts(got, want) {
		t.Fatalf("%s run: records %v, want %v (%s)", name, got, want, r.Body)
	}
	errs := runFailures(t, ann, pid, run, 4)
	var dup string
	for _, e := range errs {
		if strings.Contains(e, "customers") {
			dup = e
		}
	}
	if !strings.Contains(dup, "customers_email_key") && !strings.Contains(dup, "Duplicate entry") {
		t.Errorf("%s: the destination's refusal does not say why: %q (all: %q)", name, dup, errs)
	}

	// Fixed: every row is fine now, the taken e-mail is free.
	for _, q := range []string{`UPDATE people SET kind = 'ok'`, `DELETE FROM customers WHERE id = 100`} {
		if _, err := db.db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	r = ann.Do(t, "POST", "/api/v1/projects/"+pid+"/runs/"+run+"/reprocess", nil)
	wantStatus(t, r, http.StatusAccepted, "reprocess")
	r = waitRun(t, ann, pid, r.String("id"))
	if r.String("status") != "completed" || records(r)["succeeded"] != 4 {
		t.Fatalf("%s reprocess run: %s", name, r.Body)
	}
	var n int
	if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM customers WHERE name LIKE '`+canaryMark+`%'`).Scan(&n); err != nil || n != 5 {
		t.Errorf("%s: %d canary rows at the destination (%v), want 5", name, n, err)
	}
	return errs
}

// canaryCalls calls a sync and an async flow with canary records that
// pass, fail on a jq error and fail on a fail step. It returns the stored
// errors.
func canaryCalls(t *testing.T, inst *apptest.Instance, ann *apptest.Client, pid, pipe string) []string {
	t.Helper()
	syncFlow := mustFlow(t, ann, pid, pipe, map[string]any{
		"name":      "call-sync",
		"trigger":   map[string]any{"dynamic": map[string]any{"mode": "sync"}},
		"entity_id": ".id",
		"steps":     append(append([]any{}, canarySteps...), map[string]any{"respond": `{id, name}`}),
	})
	asyncFlow := mustFlow(t, ann, pid, pipe, map[string]any{
		"name":      "call-async",
		"trigger":   map[string]any{"dynamic": map[string]any{"mode": "async"}},
		"entity_id": ".id",
		"steps":     canarySteps,
	})
	for _, f := range []string{syncFlow, asyncFlow} {
		wantStatus(t, ann.Do(t, "POST", flowPath(pid, pipe, "/", f, "/enable"), nil), http.StatusOK, "enable")
	}
	r := ann.Do(t, "POST", "/api/v1/projects/"+pid+"/consumers", map[string]any{"name": "crm", "flows": []string{syncFlow, asyncFlow},
		"auth": map[string]any{"type": "basic"}, "rate_limit": map[string]any{"per_second": 1000, "burst": 1000}})
	wantStatus(t, r, http.StatusCreated, "create consumer")
	basic := "Basic " + basicToken(r.String("auth.username"), r.String("secret"))
	cl := inst.NewClient()
	cl.NoOrigin = true
	record := func(id int, kind string) map[string]any {
		c := newCanary(t)
		return map[string]any{"id": id, "name": c, "email": c + "@example.com", "kind": kind}
	}

	var errs []string
	k := &caller{inst: inst, c: cl, path: "/call/" + pid + "/" + syncFlow, auth: basic}
	r = k.json(t, record(1, "ok"))
	wantStatus(t, r, http.StatusOK, "sync call")
	if !strings.Contains(string(r.Body), canaryMark) {
		t.Errorf("the sync answer lacks its record's name: %s", r.Body)
	}
	for i, kind := range []string{"jq", "fail"} {
		r = k.json(t, record(2+i, kind))
		wantStatus(t, r, http.StatusUnprocessableEntity, "sync call failing on "+kind)
		errs = append(errs, runFailures(t, ann, pid, r.Header.Get("X-Sluice-Run-Id"), 1)...)
	}

	ka := &caller{inst: inst, c: cl, path: "/call/" + pid + "/" + asyncFlow, auth: basic}
	for i, kind := range []string{"ok", "obj", "fail"} {
		r = ka.json(t, record(10+i, kind))
		wantStatus(t, r, http.StatusAccepted, "async call "+kind)
		run := waitRun(t, ann, pid, r.String("run_id"))
		if kind == "ok" {
			if run.String("status") != "completed" {
				t.Errorf("async run: %s", run.Body)
			}
			continue
		}
		errs = append(errs, runFailures(t, ann, pid, r.String("run_id"), 1)...)
	}
	return errs
}

// runFailures is the stored errors of a run's failures, of which there
// must be n.
func runFailures(t *testing.T, c *apptest.Client, pid, run string, n int) []string {
	t.Helper()
	r := c.Do(t, "GET", "/api/v1/projects/"+pid+"/runs/"+run+"/failures", nil)
	wantStatus(t, r, http.StatusOK, "failures")
	fs, _ := r.Get("failures").([]any)
	if len(fs) != n {
		t.Fatalf("run %s: %d failures, want %d: %s", run, len(fs), n, r.Body)
	}
	var out []string
	for _, f := range fs {
		e, _ := f.(map[string]any)["error"].(string)
		if e == "" {
			t.Errorf("a failure without its error: %s", r.Body)
		}
		out = append(out, e)
	}
	return out
}

// scanDataDir scans every file of the instance's data directory but the
// flows' files directory, where a flow's destination files are the user's
// data. A SQLite database and its WAL are among them.
func scanDataDir(t *testing.T, inst *apptest.Instance) {
	t.Helper()
	cfg := inst.App.Config
	files := 0
	err := filepath.WalkDir(cfg.DataDir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if p == cfg.FilesDir {
				return filepath.SkipDir
			}
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		scanFor(t, p, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(inst.Where, ".db") {
		if _, err := os.Stat(inst.Where); err != nil || !strings.HasPrefix(inst.Where, cfg.DataDir) {
			t.Fatalf("the SQLite database %s is not in the data directory %s (%v)", inst.Where, cfg.DataDir, err)
		}
	}
	if files == 0 {
		t.Fatal("the data directory has no file")
	}
}

// scanFor fails the test for each place a canary appears in b.
func scanFor(t *testing.T, where string, b []byte) {
	t.Helper()
	for rest, off := b, 0; ; {
		i := bytes.Index(rest, []byte(canaryMark))
		if i < 0 {
			return
		}
		from, to := max(0, i-80), min(len(rest), i+80)
		t.Errorf("%s holds a canary at byte %d: %q", where, off+i, rest[from:to])
		off += i + len(canaryMark)
		rest = rest[i+len(canaryMark):]
	}
}
