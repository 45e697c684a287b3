package consolelog_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sluice-dev/sluice/internal/blob"
	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/consolelog"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/secrets"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

type world struct {
	st    *store.Store
	blobs *blob.Dir
	svc   *consolelog.Service
	run   *store.Run
	now   time.Time
}

func newWorld(t *testing.T, st *store.Store) *world {
	t.Helper()
	ctx := context.Background()
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	mk, err := secrets.ParseMasterKey(base64.StdEncoding.EncodeToString(raw))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secrets.OpenKeyring(ctx, st, mk, secrets.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w := st.Writer()
	u := &store.User{Email: "o@example.com", Name: "O", PasswordHash: "$argon2id$x"}
	if err := w.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	p := &store.Project{Name: "P", OwnerID: u.ID, PlanID: "default", Settings: `{}`}
	if err := w.CreateProject(ctx, p); err != nil {
		t.Fatal(err)
	}
	pipe := &store.Pipe{ProjectID: p.ID, Name: "pipe", ConsoleLog: `{}`}
	if err := w.CreatePipe(ctx, pipe); err != nil {
		t.Fatal(err)
	}
	f := &store.Flow{PipeID: pipe.ID, ProjectID: p.ID, Name: "f", Definition: `{"name":"f"}`, CreatedBy: u.ID}
	if err := st.InTx(ctx, func(q *store.Q) error { return q.CreateFlow(ctx, f) }); err != nil {
		t.Fatal(err)
	}
	run := &store.Run{ProjectID: p.ID, FlowID: f.ID, PipeID: pipe.ID, Trigger: store.TriggerManual, TriggeredBy: u.ID}
	if err := w.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	wd := &world{st: st, blobs: blobs, svc: consolelog.New(st, blobs, keys), run: run, now: time.Now()}
	wd.svc.Now = func() time.Time { return wd.now }
	return wd
}

// TestCaptureStoreLinkDelete: a capture is stored sealed (no value in
// clear in the blob), opens back to the NDJSON it captured, its link
// verifies until it expires, and deleting it takes the blob and the row.
func TestCaptureStoreLinkDelete(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := newWorld(t, st)
		c := w.svc.Begin(w.run, consolelog.Settings{Enabled: true, Capture: []string{"method_url", "params", "headers", "request", "response", "records"},
			Sensitive: []string{"card"}})
		c.Step(engine.StepRecord{Step: "read", EntityID: "7", Value: map[string]any{"id": 7, "card": "CNRY-CARD-1", "token": "CNRY-TOK-1", "note": "CNRY-NOTE-1"}})
		u, _ := url.Parse("https://api.example.com/v1/orders?page=2&access_token=CNRY-QS-1")
		c.Exchange(connector.Exchange{Method: "POST", URL: u, RequestHeader: http.Header{"Authorization": {"Bearer CNRY-AUTH-1"}, "Content-Type": {"application/x-www-form-urlencoded"}},
			RequestBody: []byte("grant_type=client_credentials&client_secret=CNRY-SECRET-1&scope=read"), Status: 200,
			ResponseHeader: http.Header{"Content-Type": {"application/json"}}, ResponseBody: []byte(`{"access_token":"CNRY-AT-1","expires_in":3600}`)})
		l, err := c.Finish(ctx)
		if err != nil || l == nil || l.Entries != 2 {
			t.Fatalf("finish: %+v %v", l, err)
		}
		if again, err := c.Finish(ctx); again != nil || err != nil {
			t.Fatalf("a second Finish stored again: %+v %v", again, err)
		}
		r, err := w.blobs.Open(ctx, l.BlobKey)
		if err != nil {
			t.Fatal(err)
		}
		sealed, _ := io.ReadAll(r)
		r.Close()
		if bytes.Contains(sealed, []byte("CNRY-NOTE-1")) {
			t.Fatal("the blob holds a record value in clear")
		}
		gz, err := w.svc.Open(ctx, l)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			t.Fatal(err)
		}
		text, _ := io.ReadAll(zr)
		for _, secret := range []string{"CNRY-CARD-1", "CNRY-TOK-1", "CNRY-QS-1", "CNRY-AUTH-1", "CNRY-SECRET-1", "CNRY-AT-1"} {
			if bytes.Contains(text, []byte(secret)) {
				t.Errorf("the log keeps %s:\n%s", secret, text)
			}
		}
		for _, kept := range []string{"CNRY-NOTE-1", `"page":"2"`, `"scope":"read"`, `"expires_in":3600`, `"url":"https://api.example.com/v1/orders"`} {
			if !bytes.Contains(text, []byte(kept)) {
				t.Errorf("the log lost %s:\n%s", kept, text)
			}
		}

		tok, exp, err := w.svc.Link(ctx, l, "user-1")
		if err != nil || exp.Sub(w.now) > consolelog.LinkTTL {
			t.Fatalf("link %v %v", exp, err)
		}
		v, err := w.svc.Verify(ctx, tok)
		if err != nil || v.Log.ID != l.ID || v.UserID != "user-1" {
			t.Fatalf("verify %+v %v", v, err)
		}
		if _, err := w.svc.Verify(ctx, strings.Replace(tok, "user-1", "user-2", 1)); !errors.Is(err, consolelog.ErrBadLink) {
			t.Errorf("another user's link: %v", err)
		}
		w.now = w.now.Add(consolelog.LinkTTL + time.Second)
		if _, err := w.svc.Verify(ctx, tok); !errors.Is(err, consolelog.ErrLinkGone) {
			t.Errorf("expired link: %v", err)
		}

		if err := w.svc.DeleteLogs(ctx, []*store.ConsoleLog{l}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.blobs.Open(ctx, l.BlobKey); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("the blob outlived its log: %v", err)
		}
		if _, err := st.Reader().ConsoleLogAnyProject(ctx, l.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the row outlived its delete: %v", err)
		}
	})
}

// TestSweepOrphans: a blob no row points at is deleted once older than
// OrphanAge by its ID's time; a young one, and one with its row, stay.
func TestSweepOrphans(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := newWorld(t, st)
		c := w.svc.Begin(w.run, consolelog.Settings{Enabled: true, Capture: []string{"records"}})
		c.Step(engine.StepRecord{Step: "read", EntityID: "1", Value: map[string]any{"id": 1}})
		kept, err := c.Finish(ctx)
		if err != nil {
			t.Fatal(err)
		}
		old := consolelog.BlobKey(w.run.ProjectID, uuid.Must(uuid.NewV7()).String())
		young := consolelog.BlobKey(w.run.ProjectID, uuid.Must(uuid.NewV7()).String())
		for _, k := range []string{old, young} {
			if _, err := w.blobs.Put(ctx, k, strings.NewReader("sealed")); err != nil {
				t.Fatal(err)
			}
		}
		w.now = time.Now().Add(consolelog.OrphanAge / 2)
		if n, err := w.svc.SweepOrphans(ctx); err != nil || n != 0 {
			t.Fatalf("swept %d (%v) before any orphan was old enough", n, err)
		}
		w.now = time.Now().Add(consolelog.OrphanAge + time.Minute)
		if n, err := w.svc.SweepOrphans(ctx); err != nil || n != 2 {
			t.Fatalf("swept %d (%v), want the 2 orphans", n, err)
		}
		if _, err := w.blobs.Open(ctx, kept.BlobKey); err != nil {
			t.Errorf("a log's blob with its row was swept: %v", err)
		}
	})
}
