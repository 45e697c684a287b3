package consumer

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/auth"
	"github.com/sluice-dev/sluice/internal/project"
	"github.com/sluice-dev/sluice/internal/secrets"
	"github.com/sluice-dev/sluice/internal/store"
)

var cheap = auth.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fixture is a project with two flows, its owner, a keyring, the service
// and a verifier on a settable clock.
type fixture struct {
	st        *store.Store
	keys      *secrets.Keyring
	svc       *Service
	v         *Verifier
	owner     *account.Principal
	projectID string
	flow      string
	flow2     string
	now       time.Time
	cl        account.Client
}

func principal(t *testing.T, st *store.Store, email string) *account.Principal {
	t.Helper()
	hash, err := auth.HashPassword("Harbor-Violet-Engine-73", cheap)
	if err != nil {
		t.Fatal(err)
	}
	u := &store.User{Email: email, Name: email, PasswordHash: hash}
	if err := st.Writer().CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return &account.Principal{User: u}
}

func newFixture(t *testing.T, st *store.Store) *fixture {
	t.Helper()
	ctx := context.Background()
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	mk, err := secrets.ParseMasterKey(base64.StdEncoding.EncodeToString(raw))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secrets.OpenKeyring(ctx, st, mk, secrets.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, keys: keys, svc: NewService(st, keys), cl: account.Client{IP: "127.0.0.1"},
		now: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	f.owner = principal(t, st, "owner@example.com")
	pv, err := project.NewService(st, account.NewService(st, account.Config{Params: cheap})).Create(ctx, f.owner, "Shop", f.cl)
	if err != nil {
		t.Fatal(err)
	}
	f.projectID = pv.Project.ID
	err = st.InTx(ctx, func(q *store.Q) error {
		p := &store.Pipe{ProjectID: f.projectID, Name: "orders", ConsoleLog: "{}"}
		if err := q.CreatePipe(ctx, p); err != nil {
			return err
		}
		for i, name := range []string{"create order", "cancel order"} {
			fl := &store.Flow{PipeID: p.ID, ProjectID: f.projectID, Name: name, Definition: "{}", CreatedBy: f.owner.User.ID}
			if err := q.CreateFlow(ctx, fl); err != nil {
				return err
			}
			if i == 0 {
				f.flow = fl.ID
			} else {
				f.flow2 = fl.ID
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f.v = NewVerifier(st, keys)
	f.v.Log = quiet()
	f.v.Now = func() time.Time { return f.now }
	// As internal/app wires them: a change through the Service takes
	// effect on the verifier at once.
	f.svc.OnChange = f.v.Forget
	return f
}

func sp(s string) *string { return &s }

// create makes a consumer allowed to call f.flow, failing the test on error.
func (f *fixture) create(t *testing.T, name string, a map[string]any) *Consumer {
	t.Helper()
	c, err := f.svc.Create(context.Background(), f.owner, f.projectID, Input{Name: sp(name), Auth: a, Flows: &[]string{f.flow}}, f.cl)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return c
}

// call authenticates a request to f.flow from 198.51.100.7 with the given
// headers and body.
func (f *fixture) call(h map[string]string, body string) (*Consumer, error) {
	return f.callFlow(f.flow, "198.51.100.7:5555", h, body)
}

func (f *fixture) callFlow(flow, remote string, h map[string]string, body string) (*Consumer, error) {
	r := httptest.NewRequest(http.MethodPost, "/call/"+f.projectID+"/"+flow, nil)
	r.RemoteAddr = remote
	for k, v := range h {
		r.Header.Set(k, v)
	}
	return f.v.Authenticate(context.Background(), f.projectID, flow, r, []byte(body))
}

// refused checks that err is an *AuthError with the status.
func refused(t *testing.T, err error, status int) {
	t.Helper()
	var ae *AuthError
	if !errors.As(err, &ae) || ae.Status != status {
		t.Fatalf("want a %d refusal, got %v", status, err)
	}
}
