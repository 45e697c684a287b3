package secrets

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/queue"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

// nopQueue accepts a job and runs nothing: the tests run the rotation
// themselves, as a job interrupted at a chosen point would.
type nopQueue struct{}

func (nopQueue) InsertTx(context.Context, *store.Q, river.JobArgs, *river.InsertOpts) (int64, error) {
	return 1, nil
}

func auditActor() audit.Event { return audit.Event{ActorEmail: "test", IP: "local"} }

// The tables this test rotates, as the app registers them.
var (
	connectionsColumns = Columns{Table: "connections", ID: "id", Term: "secrets_term", Secrets: []string{"secrets"}}
	usersColumns       = Columns{Table: "users", ID: "id", Term: "totp_term", Secrets: []string{"totp_secret", "totp_pending_secret"}}
)

func register(t testing.TB, k *Keyring) {
	t.Helper()
	for _, c := range []Columns{connectionsColumns, usersColumns} {
		if err := k.Registry().Add(c); err != nil {
			t.Fatal(err)
		}
	}
}

// world is a database full of secrets and what each one must decrypt to.
type world struct {
	conns map[string]string    // connection ID → plain secrets
	users map[string][2]string // user ID → plain (active, pending) TOTP secrets
	empty []string             // connections without secrets
}

const connectionCount = 3000

// seed fills st with connectionCount connections sealed under the keyring's
// current term, a few without secrets, and users with TOTP secrets sealed,
// in clear (stored before the keyring existed) or absent.
func seed(t *testing.T, st *store.Store, k *Keyring) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{conns: map[string]string{}, users: map[string][2]string{}}
	q := st.Writer()
	owner := &store.User{Email: "owner@example.com", Name: "Owner", PasswordHash: "$argon2id$x"}
	if err := q.CreateUser(ctx, owner); err != nil {
		t.Fatal(err)
	}
	p := &store.Project{Name: "Shop", OwnerID: owner.ID, PlanID: "default", Settings: "{}"}
	if err := q.CreateProject(ctx, p); err != nil {
		t.Fatal(err)
	}
	tx, err := st.WriteDB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	insert := func(id, name, secrets string, term int) {
		_, err := tx.ExecContext(ctx, `INSERT INTO connections (id, project_id, name, kind, settings, auth, secrets, secrets_term, created_at, updated_at)
			VALUES ($1, $2, $3, 'http', '{}', '{}', $4, $5, $6, $6)`, id, p.ID, name, secrets, term, now)
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < connectionCount; i++ {
		id := store.NewID()
		plain := fmt.Sprintf(`{"secrets.password":"pw-%d-%s"}`, i, id)
		ct, term, err := k.SealFor([]byte(plain), "connections", id, "secrets")
		if err != nil {
			t.Fatal(err)
		}
		insert(id, fmt.Sprintf("conn %d", i), ct, term)
		w.conns[id] = plain
	}
	for i := 0; i < 3; i++ {
		id := store.NewID()
		insert(id, fmt.Sprintf("no secrets %d", i), "", 0)
		w.empty = append(w.empty, id)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	user := func(email string) string {
		u := &store.User{Email: email, Name: "U", PasswordHash: "$argon2id$x"}
		if err := q.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		return u.ID
	}
	sealFor := func(id, field, plain string) (string, int) {
		ct, term, err := k.SealFor([]byte(plain), "users", id, field)
		if err != nil {
			t.Fatal(err)
		}
		return ct, term
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// Two-factor on, sealed.
	id := user("sealed@example.com")
	ct, term := sealFor(id, "totp_secret", "JBSWY3DPEHPK3PXPSEALED1")
	must(q.EnableTOTP(ctx, id, ct, term, 1))
	w.users[id] = [2]string{"JBSWY3DPEHPK3PXPSEALED1", ""}
	// Enrolment pending, sealed.
	id = user("pending@example.com")
	ct, term = sealFor(id, "totp_pending_secret", "JBSWY3DPEHPK3PXPPENDING")
	must(q.SetTOTPPending(ctx, id, ct, term))
	w.users[id] = [2]string{"", "JBSWY3DPEHPK3PXPPENDING"}
	// Stored in clear before the keyring existed.
	id = user("legacy@example.com")
	must(q.EnableTOTP(ctx, id, "JBSWY3DPEHPK3PXPLEGACY1", 0, 1))
	w.users[id] = [2]string{"JBSWY3DPEHPK3PXPLEGACY1", ""}
	id = user("legacy-pending@example.com")
	must(q.SetTOTPPending(ctx, id, "JBSWY3DPEHPK3PXPLEGACY2", 0))
	w.users[id] = [2]string{"", "JBSWY3DPEHPK3PXPLEGACY2"}
	// No second factor at all.
	w.users[user("plain@example.com")] = [2]string{"", ""}
	w.users[owner.ID] = [2]string{"", ""}
	return w
}

// check verifies every secret of w: each decrypts to its original value,
// and those rotated are under term (the rest under an older term).
// It returns how many connections are under term.
func (w *world) check(t *testing.T, st *store.Store, k *Keyring, term int) int {
	t.Helper()
	ctx := context.Background()
	rows, err := st.WriteDB().QueryContext(ctx, `SELECT id, secrets, secrets_term FROM connections`)
	if err != nil {
		t.Fatal(err)
	}
	atTerm, seen := 0, 0
	for rows.Next() {
		var id, ct string
		var rowTerm int
		if err := rows.Scan(&id, &ct, &rowTerm); err != nil {
			t.Fatal(err)
		}
		want, ok := w.conns[id]
		if !ok {
			if ct != "" || rowTerm != 0 {
				t.Errorf("connection %s without secrets now has %q under term %d", id, ct, rowTerm)
			}
			continue
		}
		seen++
		got, err := k.Open(ct, AAD{"connections", id, "secrets"})
		if err != nil || string(got) != want {
			t.Fatalf("connection %s decrypts to %q, %v; want %q", id, got, err, want)
		}
		if ctTerm, _ := TermOf(ct); ctTerm != rowTerm {
			t.Fatalf("connection %s: secrets_term %d but sealed under %d", id, rowTerm, ctTerm)
		}
		if rowTerm == term {
			atTerm++
		}
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if seen != len(w.conns) {
		t.Fatalf("%d connections with secrets, want %d", seen, len(w.conns))
	}
	for id, want := range w.users {
		var active, pending string
		var rowTerm int
		err := st.WriteDB().QueryRowContext(ctx, `SELECT totp_secret, totp_pending_secret, totp_term FROM users WHERE id = $1`, id).Scan(&active, &pending, &rowTerm)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range []string{active, pending} {
			field := []string{"totp_secret", "totp_pending_secret"}[i]
			if want[i] == "" {
				if v != "" {
					t.Fatalf("user %s: %s became %q", id, field, v)
				}
				continue
			}
			got := v
			if IsSealed(v) {
				b, err := k.Open(v, AAD{"users", id, field})
				if err != nil {
					t.Fatalf("user %s %s: %v", id, field, err)
				}
				got = string(b)
			} else if rowTerm != 0 {
				t.Fatalf("user %s: %s in clear under term %d", id, field, rowTerm)
			}
			if got != want[i] {
				t.Fatalf("user %s %s = %q, want %q", id, field, got, want[i])
			}
		}
		if want == [2]string{} && rowTerm != 0 {
			t.Fatalf("user %s without a second factor has totp_term %d", id, rowTerm)
		}
	}
	return atTerm
}

// allUnder fails unless every secret of w is sealed under term.
func (w *world) allUnder(t *testing.T, st *store.Store, k *Keyring, term int) {
	t.Helper()
	if n := w.check(t, st, k, term); n != len(w.conns) {
		t.Fatalf("%d of %d connections under term %d", n, len(w.conns), term)
	}
	for id, want := range w.users {
		if want == [2]string{} {
			continue
		}
		var active, pending string
		var rowTerm int
		_ = st.WriteDB().QueryRow(`SELECT totp_secret, totp_pending_secret, totp_term FROM users WHERE id = $1`, id).Scan(&active, &pending, &rowTerm)
		if rowTerm != term {
			t.Fatalf("user %s has totp_term %d, want %d", id, rowTerm, term)
		}
		for _, v := range []string{active, pending} {
			if v == "" {
				continue
			}
			if got, err := TermOf(v); err != nil || got != term {
				t.Fatalf("user %s: a TOTP secret is sealed under %d (%v), want %d", id, got, err, term)
			}
		}
	}
}

// TestRotationThroughTheQueue: Rotate commits the term, the rotation row,
// its audit event and a job carrying the term only; the queue runs the job
// to the end; every secret is then under the new term and decrypts to what
// it was, legacy values in clear included.
func TestRotationThroughTheQueue(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		k := openKeyring(t, st, masterKey(t))
		register(t, k)
		w := seed(t, st, k)
		if n := w.check(t, st, k, 1); n != connectionCount {
			t.Fatalf("seeded %d connections under term 1", n)
		}

		q, err := queue.New(st, queue.Options{Work: true, Workers: 2, PollInterval: 50 * time.Millisecond, Logger: quiet(), Register: k.Register})
		if err != nil {
			t.Fatal(err)
		}
		k.SetQueue(q)
		rot, err := k.Rotate(ctx, auditActor())
		if err != nil {
			t.Fatal(err)
		}
		if rot.Term != 2 || rot.FinishedAt != nil || k.CurrentTerm() != 2 {
			t.Fatalf("rotation %+v, current term %d", rot, k.CurrentTerm())
		}
		// New secrets are sealed under the new term at once.
		if ct, _ := k.Seal([]byte("x"), here); !strings.HasPrefix(ct, "sk1:") || mustTerm(t, ct) != 2 {
			t.Fatal("new secrets are not sealed under the new term")
		}
		// The job carries the term only.
		var args string
		var maxAttempts int
		argsText := "CAST(args AS TEXT)"
		if st.Dialect() == store.SQLite {
			argsText = "json(args)" // River keeps SQLite JSONB
		}
		if err := st.WriteDB().QueryRowContext(ctx, `SELECT `+argsText+`, max_attempts FROM river_job WHERE kind = 'keyring_rotate'`).Scan(&args, &maxAttempts); err != nil {
			t.Fatal(err)
		}
		var decoded map[string]any
		if err := json.Unmarshal([]byte(args), &decoded); err != nil || len(decoded) != 1 || decoded["term"] != float64(2) || maxAttempts != 25 {
			t.Fatalf("job args %s, max attempts %d", args, maxAttempts)
		}
		// The audit event commits with it.
		evs, err := st.Reader().ListAuditEvents(ctx, store.AuditFilter{Action: AuditActionRotate, Limit: 10})
		if err != nil || len(evs) != 1 || evs[0].Target != "keyring:term/2" {
			t.Fatalf("audit events %+v, %v", evs, err)
		}

		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = q.Stop(sctx)
		})
		final := waitFinished(t, k, 2)
		w.allUnder(t, st, k, 2)
		if c := final.Tables["connections"]; c.Done != connectionCount || c.Total != connectionCount || !c.Finished || c.Failed != 0 {
			t.Fatalf("connections progress %+v", c)
		}
		if u := final.Tables["users"]; u.Done != 4 || u.Total != 4 || !u.Finished {
			t.Fatalf("users progress %+v", u)
		}
		status, err := k.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if status.CurrentTerm != 2 || len(status.Terms) != 2 || len(status.Rotations) != 1 || status.Rotations[0].FinishedAt == nil {
			t.Fatalf("status %+v", status)
		}
		for _, s := range status.Secrets {
			if len(s.ByTerm) != 1 || s.ByTerm[2] == 0 {
				t.Fatalf("%s secrets by term %v, want all under 2", s.Table, s.ByTerm)
			}
		}
		// A finished rotation run again is a no-op.
		if done, err := k.RunRotation(ctx, 2, 0); !done || err != nil {
			t.Fatalf("rerun: %v, %v", done, err)
		}
	})
}

func mustTerm(t *testing.T, ct string) int {
	t.Helper()
	n, err := TermOf(ct)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitFinished waits for a rotation to finish. The deadline only keeps a
// broken queue from hanging the suite; it is not a performance assertion.
func waitFinished(t *testing.T, k *Keyring, term int) *RotationStatus {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		rs, err := k.Rotation(context.Background(), term)
		if err != nil {
			t.Fatal(err)
		}
		if rs.FinishedAt != nil {
			return rs
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rotation did not finish; progress %+v", rs.Tables)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRotationResumes: a rotation stopped after some batches (a batch
// limit, then a cancelled job context) leaves every secret readable (old
// terms still decrypt), keeps its checkpoint, and a new process resumes it
// from there to the end without redoing a row.
func TestRotationResumes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		mk := masterKey(t)
		k := openKeyring(t, st, mk)
		register(t, k)
		w := seed(t, st, k)
		k.SetQueue(nopQueue{})
		if _, err := k.Rotate(ctx, auditActor()); err != nil {
			t.Fatal(err)
		}
		// Before any batch: everything still under term 1, readable.
		if n := w.check(t, st, k, 2); n != 0 {
			t.Fatalf("%d connections moved before the job ran", n)
		}

		// Three batches of 200, then stop.
		done, err := k.RunRotation(ctx, 2, 3)
		if err != nil || done {
			t.Fatalf("limited run: done %v, %v", done, err)
		}
		if n := w.check(t, st, k, 2); n != 600 {
			t.Fatalf("%d connections under term 2 after 3 batches, want 600", n)
		}
		rs, _ := k.Rotation(ctx, 2)
		if c := rs.Tables["connections"]; c.Done != 600 || c.After == "" || c.Finished || rs.FinishedAt != nil {
			t.Fatalf("checkpoint after 3 batches: %+v", c)
		}

		// A job whose context is cancelled after its second batch (a node
		// shutting down): the batch in flight rolls back, the two before
		// it are kept.
		jctx, cancel := context.WithCancel(ctx)
		batches := 0
		k.afterBatch = func(string) {
			if batches++; batches == 2 {
				cancel()
			}
		}
		done, err = k.RunRotation(jctx, 2, 0)
		if !errors.Is(err, context.Canceled) || done {
			t.Fatalf("cancelled run: done %v, %v", done, err)
		}
		k.afterBatch = nil
		if n := w.check(t, st, k, 2); n != 1000 {
			t.Fatalf("%d connections under term 2 after 5 batches, want 1000", n)
		}

		// Another process (a worker after a crash) resumes and finishes.
		k2 := openKeyring(t, st, mk)
		register(t, k2)
		done, err = k2.RunRotation(ctx, 2, 0)
		if err != nil || !done {
			t.Fatalf("resumed run: done %v, %v", done, err)
		}
		w.allUnder(t, st, k2, 2)
		rs, _ = k2.Rotation(ctx, 2)
		if c := rs.Tables["connections"]; c.Done != connectionCount || c.Total != connectionCount || c.Changed != 0 {
			t.Fatalf("a row was done twice or skipped: %+v", c)
		}
		if rs.FinishedAt == nil {
			t.Fatal("finished_at not set")
		}
	})
}

// TestRotationLeavesChangedAndBrokenRows: a row changed by a writer while
// the rotation runs is not overwritten, and a secret that does not decrypt
// (copied from another row) is reported and left as it was, without
// stopping the rotation.
func TestRotationLeavesChangedAndBrokenRows(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		k := openKeyring(t, st, masterKey(t))
		register(t, k)
		seed(t, st, k)
		ids := []string{}
		rows, err := st.Reader().SecretRowsBelowTerm(ctx, connectionsColumns.table(), 2, "", 3)
		if err != nil || len(rows) != 3 {
			t.Fatalf("rows: %v", err)
		}
		for _, r := range rows {
			ids = append(ids, r.ID)
		}
		// Row 0's secret pasted into row 1: bound to row 0, it cannot open.
		if _, err := st.WriteDB().ExecContext(ctx, `UPDATE connections SET secrets = $1 WHERE id = $2`, rows[0].Values[0], ids[1]); err != nil {
			t.Fatal(err)
		}
		// Row 2 changes after it was read: the compare-and-set refuses.
		changed, _, _ := k.SealFor([]byte("new"), "connections", ids[2], "secrets")
		if _, err := st.WriteDB().ExecContext(ctx, `UPDATE connections SET secrets = $1 WHERE id = $2`, changed, ids[2]); err != nil {
			t.Fatal(err)
		}
		ok, err := st.Writer().ResealSecretRow(ctx, connectionsColumns.table(), rows[2], []string{"sk1:whatever"}, 2)
		if err != nil || ok {
			t.Fatalf("a changed row was overwritten: %v, %v", ok, err)
		}

		k.SetQueue(nopQueue{})
		if _, err := k.Rotate(ctx, auditActor()); err != nil {
			t.Fatal(err)
		}
		done, err := k.RunRotation(ctx, 2, 0)
		if err != nil || !done {
			t.Fatalf("rotation: %v, %v", done, err)
		}
		rs, _ := k.Rotation(ctx, 2)
		c := rs.Tables["connections"]
		if c.Failed != 1 || len(c.FailedRows) != 1 || c.FailedRows[0] != ids[1] || c.Done != connectionCount-1 {
			t.Fatalf("progress %+v", c)
		}
		var stored string
		var term int
		_ = st.WriteDB().QueryRow(`SELECT secrets, secrets_term FROM connections WHERE id = $1`, ids[1]).Scan(&stored, &term)
		if stored != rows[0].Values[0] || term != 1 {
			t.Fatal("the broken row was changed")
		}
		got, err := k.Open(mustSecret(t, st, ids[2]), AAD{"connections", ids[2], "secrets"})
		if err != nil || string(got) != "new" {
			t.Fatalf("the changed row: %q, %v", got, err)
		}
	})
}

func mustSecret(t *testing.T, st *store.Store, id string) string {
	t.Helper()
	var s string
	if err := st.WriteDB().QueryRow(`SELECT secrets FROM connections WHERE id = $1`, id).Scan(&s); err != nil && !errors.Is(err, sql.ErrNoRows) {
		t.Fatal(err)
	}
	return s
}

func TestRegistry(t *testing.T) {
	var r Registry
	if err := r.Add(connectionsColumns); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(connectionsColumns); err == nil {
		t.Fatal("a table registered twice")
	}
	for _, bad := range []Columns{
		{Table: "users; DROP TABLE users", ID: "id", Term: "t", Secrets: []string{"s"}},
		{Table: "x", ID: "id", Term: "t"},
		{Table: "x", ID: "ID", Term: "t", Secrets: []string{"s"}},
		{Table: "x", ID: "id", Term: "t", Secrets: []string{"s--"}},
	} {
		if err := r.Add(bad); err == nil {
			t.Errorf("registered %+v", bad)
		}
	}
	if err := r.Add(usersColumns); err != nil {
		t.Fatal(err)
	}
	l := r.List()
	if len(l) != 2 || l[0].Table != "connections" || l[1].Table != "users" {
		t.Fatalf("list %+v", l)
	}
}
