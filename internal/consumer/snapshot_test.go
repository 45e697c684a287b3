package consumer

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

// callOn authenticates a request to f.flow on the verifier v (another
// node's, or f.v).
func (f *fixture) callOn(v *Verifier, h map[string]string) (*Consumer, error) {
	r := httptest.NewRequest(http.MethodPost, "/call/"+f.projectID+"/"+f.flow, nil)
	r.RemoteAddr = "198.51.100.7:5555"
	for k, val := range h {
		r.Header.Set(k, val)
	}
	return v.Authenticate(context.Background(), f.projectID, f.flow, r, nil)
}

func basicAuth(c *Consumer, secret string) map[string]string {
	return map[string]string{"Authorization": "Basic " + b64std(c.Row.Username+":"+secret)}
}

// hsToken makes an HS256 JWT valid for a minute from f.now.
func (f *fixture) hsToken(secret string) string {
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"exp": f.now.Add(time.Minute).Unix()}).SignedString([]byte(secret))
	return tok
}

// TestForgetEndsCredentialsAtOnce: with the Service's OnChange wired to
// Forget, a change, a rotation or a delete through the Service ends the
// old credentials on this node at once, though the clock stands still
// (so the snapshot's TTL never runs out), and cached tokens end with it.
func TestForgetEndsCredentialsAtOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		f.svc.OnChange = f.v.Forget
		ctx := context.Background()
		b := f.create(t, "erp", map[string]any{"type": "basic"})
		secret := strings.Repeat("s", 40)
		j := f.create(t, "hs", map[string]any{"type": "jwt", "algorithms": []any{"HS256"}, "secret": secret})
		tok := f.hsToken(secret)
		for i := 0; i < 2; i++ { // the second call is a token cache hit
			if _, err := f.call(basicAuth(b, b.Secret), ""); err != nil {
				t.Fatalf("basic %d: %v", i, err)
			}
			if _, err := f.call(bearer(tok), ""); err != nil {
				t.Fatalf("bearer %d: %v", i, err)
			}
		}

		// A consumer created after the snapshot was loaded works at once.
		b2 := f.create(t, "crm", map[string]any{"type": "basic"})
		if _, err := f.call(basicAuth(b2, b2.Secret), ""); err != nil {
			t.Fatalf("a new consumer: %v", err)
		}
		// A changed consumer: the cached token is refused.
		if _, err := f.svc.Update(ctx, f.owner, f.projectID, j.Row.ID, Input{Auth: map[string]any{"type": "jwt", "algorithms": []any{"HS256"}, "issuer": "erp"}}, f.cl); err != nil {
			t.Fatal(err)
		}
		_, err := f.call(bearer(tok), "")
		refused(t, err, 401)
		// A rotated secret: the old one is refused, the new one accepted.
		r, err := f.svc.RotateSecret(ctx, f.owner, f.projectID, b.Row.ID, f.cl)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.call(basicAuth(b, b.Secret), "")
		refused(t, err, 401)
		if _, err := f.call(basicAuth(b, r.Secret), ""); err != nil {
			t.Fatalf("the rotated secret: %v", err)
		}
		// A deleted consumer: its Basic credential and its cached token are
		// refused.
		secret2 := strings.Repeat("t", 40)
		j2 := f.create(t, "hs2", map[string]any{"type": "jwt", "algorithms": []any{"HS256"}, "secret": secret2})
		tok2 := f.hsToken(secret2)
		if _, err := f.call(bearer(tok2), ""); err != nil {
			t.Fatalf("bearer of hs2: %v", err)
		}
		for _, id := range []string{b.Row.ID, j2.Row.ID} {
			if err := f.svc.Delete(ctx, f.owner, f.projectID, id, f.cl); err != nil {
				t.Fatal(err)
			}
		}
		_, err = f.call(basicAuth(b, r.Secret), "")
		refused(t, err, 401)
		_, err = f.call(bearer(tok2), "")
		refused(t, err, 401)
		if _, err := f.call(basicAuth(b2, b2.Secret), ""); err != nil {
			t.Fatalf("an untouched consumer: %v", err)
		}
	})
}

// TestOtherNodeWithinTTL: a second Verifier on the same store (another
// node, whose Forget nobody calls) keeps accepting a consumer deleted in
// the database until its snapshot is ConsumerTTL old by its clock, then
// refuses it; its cached token ends with it.
func TestOtherNodeWithinTTL(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		f.svc.OnChange = f.v.Forget
		ctx := context.Background()
		now := f.now
		other := NewVerifier(st, f.keys)
		other.Log = quiet()
		other.Now = func() time.Time { return now }
		b := f.create(t, "erp", map[string]any{"type": "basic"})
		secret := strings.Repeat("s", 40)
		j := f.create(t, "hs", map[string]any{"type": "jwt", "algorithms": []any{"HS256"}, "secret": secret})
		tok := f.hsToken(secret)
		accepted := func(when string) {
			t.Helper()
			if _, err := f.callOn(other, basicAuth(b, b.Secret)); err != nil {
				t.Fatalf("basic %s: %v", when, err)
			}
			if _, err := f.callOn(other, bearer(tok)); err != nil {
				t.Fatalf("bearer %s: %v", when, err)
			}
		}
		accepted("before the delete")
		for _, id := range []string{b.Row.ID, j.Row.ID} {
			if err := st.Writer().DeleteConsumer(ctx, f.projectID, id); err != nil {
				t.Fatal(err)
			}
		}
		accepted("right after the delete")
		now = now.Add(DefaultConsumerTTL - time.Millisecond)
		accepted("just within the TTL")
		now = now.Add(time.Millisecond)
		_, err := f.callOn(other, basicAuth(b, b.Secret))
		refused(t, err, 401)
		_, err = f.callOn(other, bearer(tok))
		refused(t, err, 401)

		// A longer ConsumerTTL is honoured.
		other.ConsumerTTL = time.Minute
		c := f.create(t, "crm", map[string]any{"type": "basic"})
		now = now.Add(time.Hour)
		if _, err := f.callOn(other, basicAuth(c, c.Secret)); err != nil {
			t.Fatalf("crm: %v", err)
		}
		if err := st.Writer().DeleteConsumer(ctx, f.projectID, c.Row.ID); err != nil {
			t.Fatal(err)
		}
		now = now.Add(59 * time.Second)
		if _, err := f.callOn(other, basicAuth(c, c.Secret)); err != nil {
			t.Fatalf("crm within a minute: %v", err)
		}
		now = now.Add(time.Second)
		_, err = f.callOn(other, basicAuth(c, c.Secret))
		refused(t, err, 401)
	})
}

// TestOneLoadPerTTL: many calls, concurrent or not, with a token, Basic
// credentials or none, load the project's consumers once per TTL.
func TestOneLoadPerTTL(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		secret := strings.Repeat("s", 40)
		f.create(t, "hs", map[string]any{"type": "jwt", "algorithms": []any{"HS256"}, "secret": secret})
		b := f.create(t, "erp", map[string]any{"type": "basic"})
		tok := f.hsToken(secret)
		const n = 32
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := f.call(bearer(tok), "")
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("concurrent call: %v", err)
			}
		}
		for i := 0; i < n; i++ {
			if _, err := f.call(bearer(tok), ""); err != nil {
				t.Fatal(err)
			}
			if _, err := f.call(basicAuth(b, b.Secret), ""); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < 3; i++ { // fewer than the throttle's 20 failures
			_, err := f.call(nil, "") // no credentials: an HMAC lookup
			refused(t, err, 401)
		}
		if got := f.v.snaps.loads.Load(); got != 1 {
			t.Fatalf("%d loads of the consumers within one TTL, want 1", got)
		}
		f.now = f.now.Add(DefaultConsumerTTL)
		for i := 0; i < n; i++ {
			if _, err := f.call(bearer(tok), ""); err != nil {
				t.Fatal(err)
			}
		}
		if got := f.v.snaps.loads.Load(); got != 2 {
			t.Fatalf("%d loads of the consumers after the TTL, want 2", got)
		}
	})
}

// TestForgetDuringLoad: a load that began before a Forget is not kept, so
// a change cannot be undone by a slow load of the rows before it; and the
// cache is emptied, not grown, when it holds maxCachedProjects projects.
func TestForgetDuringLoad(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := context.Background()
		f.v.snaps.mu.Lock()
		epoch := f.v.snaps.epoch
		f.v.snaps.mu.Unlock()
		f.v.Forget(f.projectID)
		if _, err := f.v.loadSnapshot(ctx, f.projectID, epoch); err != nil {
			t.Fatal(err)
		}
		if s := f.v.snaps.projects[f.projectID]; s != nil {
			t.Fatal("a load begun before Forget was kept")
		}
		if _, err := f.v.consumers(ctx, f.projectID); err != nil {
			t.Fatal(err)
		}
		if s := f.v.snaps.projects[f.projectID]; s == nil {
			t.Fatal("a load begun after Forget was not kept")
		}

		full := make(map[string]*snapshot, maxCachedProjects)
		for i := 0; len(full) < maxCachedProjects; i++ {
			full[store.NewID()] = &snapshot{loaded: f.now}
		}
		f.v.snaps.projects = full
		f.v.Forget(f.projectID)
		if _, err := f.v.consumers(ctx, f.projectID); err != nil {
			t.Fatal(err)
		}
		if n := len(f.v.snaps.projects); n != 1 {
			t.Fatalf("%d cached projects after a load into a full cache, want 1", n)
		}
	})
}

// TestUnreadableConsumer: a consumer whose stored settings do not decode
// fails the calls that reach it with an error that is not a refusal (a
// 500), as when each call decoded it, while the project's other consumers
// keep working.
func TestUnreadableConsumer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		b := f.create(t, "erp", map[string]any{"type": "basic"})
		h := f.create(t, "shop", map[string]any{"type": "hmac", "style": "shopify"})
		row := *h.Row
		row.Auth = "{"
		if err := st.Writer().UpdateConsumer(context.Background(), &row); err != nil {
			t.Fatal(err)
		}
		if _, err := f.call(basicAuth(b, b.Secret), ""); err != nil {
			t.Fatalf("basic beside an unreadable consumer: %v", err)
		}
		_, err := f.call(map[string]string{HeaderShopify: "AAAA"}, "{}")
		var ae *AuthError
		if err == nil || errors.As(err, &ae) || !strings.Contains(err.Error(), "unreadable") {
			t.Fatalf("a signed call reaching the unreadable consumer: %v, want a non-refusal error", err)
		}
	})
}
