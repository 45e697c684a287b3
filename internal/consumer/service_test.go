package consumer

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/connection"
	"github.com/sluice-dev/sluice/internal/project"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

// TestCreateListsEveryProblem: a bad create answers every problem with its
// path, and nothing is stored.
func TestCreateListsEveryProblem(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := context.Background()
		for _, tc := range []struct {
			name  string
			in    Input
			paths []string
		}{
			{"everything wrong", Input{Name: sp(" "), Auth: map[string]any{"type": "jwt", "algorithms": []any{"none", "HS256"}, "secret": "short", "leeway_seconds": 61.0, "max_age_seconds": -1.0},
				Flows: &[]string{"nope"}, AllowedIPs: &[]string{"10.0.0.1/8", "bogus"}, RateLimit: &RateLimit{PerSecond: 0, Burst: 0}},
				[]string{"name", "auth.algorithms[0]", "auth.secret", "auth.max_age_seconds", "auth.leeway_seconds", "allowed_ips[0]", "allowed_ips[1]", "rate_limit.per_second", "rate_limit.burst", "flows[0]"}},
			{"no auth", Input{Name: sp("a")}, []string{"auth"}},
			{"unknown type", Input{Name: sp("a"), Auth: map[string]any{"type": "oauth"}}, []string{"auth.type"}},
			{"HS mixed with RS", Input{Name: sp("a"), Auth: map[string]any{"type": "jwt", "algorithms": []any{"HS256", "RS256"}, "secret": strings.Repeat("k", 32)}},
				[]string{"auth.algorithms", "auth.secret", "auth.public_key"}},
			{"HS without secret", Input{Name: sp("a"), Auth: map[string]any{"type": "jwt", "algorithms": []any{"HS256"}}}, []string{"auth.secret"}},
			{"RS without key", Input{Name: sp("a"), Auth: map[string]any{"type": "jwt", "algorithms": []any{"RS256"}}}, []string{"auth.public_key"}},
			{"RS with a bad key and an http JWKS", Input{Name: sp("a"), Auth: map[string]any{"type": "jwt", "algorithms": []any{"RS256"}, "jwks_url": "http://idp.example/jwks"}}, []string{"auth.jwks_url"}},
			{"RS with a garbage PEM", Input{Name: sp("a"), Auth: map[string]any{"type": "jwt", "algorithms": []any{"RS256"}, "public_key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}}, []string{"auth.public_key"}},
			{"basic with a username", Input{Name: sp("a"), Auth: map[string]any{"type": "basic", "username": "me"}}, []string{"auth.username"}},
			{"hmac without style", Input{Name: sp("a"), Auth: map[string]any{"type": "hmac", "extra": 1.0}}, []string{"auth.style", "auth.extra"}},
			{"generic hmac without headers", Input{Name: sp("a"), Auth: map[string]any{"type": "hmac", "style": "generic", "header": "X Sig"}}, []string{"auth.header", "auth.timestamp_header"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := f.svc.Create(ctx, f.owner, f.projectID, tc.in, f.cl)
				var ve *connection.ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("want a validation error, got %v", err)
				}
				var paths []string
				for _, p := range ve.Problems {
					paths = append(paths, p.Field)
				}
				slices.Sort(paths)
				want := slices.Clone(tc.paths)
				slices.Sort(want)
				if !slices.Equal(paths, want) {
					t.Fatalf("problems at %q, want %q (%v)", paths, want, ve)
				}
			})
		}
		if cs, _ := f.svc.List(ctx, f.projectID); len(cs) != 0 {
			t.Fatalf("a refused create stored %d consumers", len(cs))
		}
	})
}

// TestBasicSecretShownOnce: a Basic consumer's generated secret is in the
// create answer and the rotation answer only; the store holds a hash; a
// rotated secret replaces the old one at once; every change is audited.
func TestBasicSecretShownOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := context.Background()
		c := f.create(t, "erp", map[string]any{"type": "basic"})
		if len(c.Secret) < 22 || !strings.HasPrefix(c.Row.Username, "sc-") || c.Row.SecretHash == "" || strings.Contains(c.Row.SecretHash, c.Secret) {
			t.Fatalf("create answer: user %q secret %d chars hash %q", c.Row.Username, len(c.Secret), c.Row.SecretHash)
		}
		got, err := f.svc.Get(ctx, f.projectID, c.Row.ID)
		if err != nil || got.Secret != "" || !got.SecretSet || got.Row.Username != c.Row.Username {
			t.Fatalf("get: %+v %v", got, err)
		}
		basic := func(user, pass string) map[string]string {
			return map[string]string{"Authorization": "Basic " + b64std(user+":"+pass)}
		}
		if _, err := f.call(basic(c.Row.Username, c.Secret), ""); err != nil {
			t.Fatalf("the first secret: %v", err)
		}
		r, err := f.svc.RotateSecret(ctx, f.owner, f.projectID, c.Row.ID, f.cl)
		if err != nil || r.Secret == "" || r.Secret == c.Secret {
			t.Fatalf("rotate: %v", err)
		}
		_, err = f.call(basic(c.Row.Username, c.Secret), "")
		refused(t, err, 401)
		if _, err := f.call(basic(c.Row.Username, r.Secret), ""); err != nil {
			t.Fatalf("the rotated secret: %v", err)
		}
		events, err := st.Reader().ListAuditEvents(ctx, store.AuditFilter{ProjectID: f.projectID})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range events {
			actions = append(actions, e.Action)
			if strings.Contains(e.Detail, c.Secret) || strings.Contains(e.Detail, r.Secret) {
				t.Fatalf("an audit event holds a secret: %s", e.Detail)
			}
		}
		if !slices.Contains(actions, ActionCreate) || !slices.Contains(actions, ActionSecret) {
			t.Fatalf("audit actions %v", actions)
		}
	})
}

// TestUpdateAndDelete: a change keeps what it does not name, refuses bad
// input whole, and a JWT consumer has no generated secret to rotate.
func TestUpdateAndDelete(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := context.Background()
		c := f.create(t, "shop", map[string]any{"type": "jwt", "algorithms": []any{"HS256"}, "secret": strings.Repeat("s", 40)})
		_, err := f.svc.Update(ctx, f.owner, f.projectID, c.Row.ID, Input{Name: sp("shop 2"), AllowedIPs: &[]string{"nope"}}, f.cl)
		var ve *connection.ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("bad update: %v", err)
		}
		if got, _ := f.svc.Get(ctx, f.projectID, c.Row.ID); got.Row.Name != "shop" {
			t.Fatalf("a refused update changed the name to %q", got.Row.Name)
		}
		u, err := f.svc.Update(ctx, f.owner, f.projectID, c.Row.ID, Input{Flows: &[]string{f.flow, f.flow2}, AllowedIPs: &[]string{"203.0.113.0/24"},
			Auth: map[string]any{"type": "jwt", "algorithms": []any{"HS512"}, "issuer": "shop"}}, f.cl)
		if err != nil || len(u.Flows) != 2 || u.Settings.Issuer != "shop" || u.Row.Secret != c.Row.Secret || u.Settings.Algorithms[0] != "HS512" {
			t.Fatalf("update: %+v %v", u, err)
		}
		if _, err := f.svc.RotateSecret(ctx, f.owner, f.projectID, c.Row.ID, f.cl); !errors.As(err, &ve) {
			t.Fatalf("rotating a JWT consumer: %v", err)
		}
		if err := f.svc.Delete(ctx, f.owner, f.projectID, c.Row.ID, f.cl); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Get(ctx, f.projectID, c.Row.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("after delete: %v", err)
		}
	})
}

// TestStandardMayNotManage: the role is checked again inside the
// transaction; a standard member's create is refused and stores nothing.
func TestStandardMayNotManage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := context.Background()
		std := principal(t, st, "std@example.com")
		if err := st.Writer().CreateGrant(ctx, &store.Grant{ProjectID: f.projectID, UserID: std.User.ID, Role: "standard"}); err != nil {
			t.Fatal(err)
		}
		_, err := f.svc.Create(ctx, std, f.projectID, Input{Name: sp("x"), Auth: map[string]any{"type": "basic"}, Flows: &[]string{}}, f.cl)
		if !errors.Is(err, project.ErrRoleChanged) {
			t.Fatalf("standard create: %v", err)
		}
	})
}
