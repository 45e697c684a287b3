package project_test

import (
	"context"
	"errors"
	"testing"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/auth"
	"github.com/sluice-dev/sluice/internal/project"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

const testPW = "Harbor-Violet-Engine-73"

var cheap = auth.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func principal(t *testing.T, st *store.Store, email string) *account.Principal {
	t.Helper()
	hash, err := auth.HashPassword(testPW, cheap)
	if err != nil {
		t.Fatal(err)
	}
	u := &store.User{Email: email, Name: email, PasswordHash: hash}
	if err := st.Writer().CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return &account.Principal{User: u}
}

// TestOwnerActionsRecheckOwnership: the guard resolves the caller's role
// before the handler runs, so a request can carry a grant that went stale
// while it waited (the caller transferred the project away in another
// request). Transfer and Delete must decide on the owner as the
// transaction sees it, not as the guard saw it.
func TestOwnerActionsRecheckOwnership(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		c := account.Client{IP: "127.0.0.1"}
		svc := project.NewService(st, account.NewService(st, account.Config{Params: cheap}))
		bob := principal(t, st, "bob@example.com")
		cyd := principal(t, st, "cyd@example.com")
		dan := principal(t, st, "dan@example.com")
		v, err := svc.Create(ctx, bob, "P", c)
		if err != nil {
			t.Fatal(err)
		}
		pid := v.Project.ID
		resolve := func(p *account.Principal) *access.Grant {
			t.Helper()
			g, err := svc.Resolve(ctx, p, pid)
			if err != nil {
				t.Fatalf("resolve %s: %v", p.User.Email, err)
			}
			return g
		}
		for _, p := range []*account.Principal{cyd, dan} {
			if _, err := svc.Grant(ctx, bob, resolve(bob), project.NewGrant{UserID: p.User.ID, Role: store.RoleStandard}, c); err != nil {
				t.Fatal(err)
			}
		}
		// Two requests of bob's pass the guard as owner; the first
		// transfers the project to cyd, who then revokes bob.
		stale := resolve(bob)
		if _, err := svc.Transfer(ctx, bob, stale, cyd.User.ID, c); err != nil {
			t.Fatal(err)
		}
		bobGrant, err := st.Reader().UserGrant(ctx, pid, bob.User.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Revoke(ctx, cyd, resolve(cyd), bobGrant.ID, c); err != nil {
			t.Fatal(err)
		}

		// The second request, still carrying the owner role.
		// bob has no role left: as the guard would, that is not found.
		if _, err := svc.Transfer(ctx, bob, stale, dan.User.ID, c); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a stale owner transferred the project: %v", err)
		}
		if err := svc.Delete(ctx, bob, stale, testPW, c); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a stale owner deleted the project: %v", err)
		}
		g := resolve(cyd)
		if g.Role != access.Owner || g.Project.OwnerID != cyd.User.ID {
			t.Fatalf("cyd's role afterwards: %s (owner %s)", g.Role, g.Project.OwnerID)
		}
		if _, err := svc.Resolve(ctx, bob, pid); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("bob regained access: %v", err)
		}
		if gr, err := svc.Resolve(ctx, dan, pid); err != nil || gr.Role != access.Standard {
			t.Fatalf("dan afterwards: %+v, %v", gr, err)
		}

		// A stale owner still holding admin may do what admins do, but
		// not what owners do.
		stale = resolve(cyd)
		if _, err := svc.Transfer(ctx, cyd, stale, dan.User.ID, c); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Transfer(ctx, cyd, stale, dan.User.ID, c); !errors.Is(err, project.ErrRoleChanged) {
			t.Errorf("an administrator transferred the project on a stale owner role: %v", err)
		}
		if err := svc.Delete(ctx, cyd, stale, testPW, c); !errors.Is(err, project.ErrRoleChanged) {
			t.Errorf("an administrator deleted the project on a stale owner role: %v", err)
		}
		if g := resolve(dan); g.Role != access.Owner {
			t.Fatalf("dan's role at the end: %s", g.Role)
		}
	})
}

// TestAdminActionsRecheckRole: an administrator demoted to standard while a
// request of theirs was past the guard cannot finish an access change or a
// configuration change with the role they lost.
func TestAdminActionsRecheckRole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		c := account.Client{IP: "127.0.0.1"}
		svc := project.NewService(st, account.NewService(st, account.Config{Params: cheap}))
		owner := principal(t, st, "owner@example.com")
		adm := principal(t, st, "adm@example.com")
		eve := principal(t, st, "eve@example.com")
		v, err := svc.Create(ctx, owner, "P", c)
		if err != nil {
			t.Fatal(err)
		}
		pid := v.Project.ID
		og, _ := svc.Resolve(ctx, owner, pid)
		admGrant, err := svc.Grant(ctx, owner, og, project.NewGrant{UserID: adm.User.ID, Role: store.RoleAdmin}, c)
		if err != nil {
			t.Fatal(err)
		}
		stale, err := svc.Resolve(ctx, adm, pid)
		if err != nil || stale.Role != access.Admin {
			t.Fatalf("adm resolves as %+v, %v", stale, err)
		}
		if _, err := svc.SetRole(ctx, owner, og, admGrant.ID, store.RoleStandard, c); err != nil {
			t.Fatal(err)
		}
		name := "Renamed"
		if _, err := svc.Update(ctx, adm, stale, project.Update{Name: &name}, c); !errors.Is(err, project.ErrRoleChanged) {
			t.Errorf("a demoted admin renamed the project: %v", err)
		}
		if _, err := svc.Grant(ctx, adm, stale, project.NewGrant{UserID: eve.User.ID, Role: store.RoleAdmin}, c); !errors.Is(err, project.ErrRoleChanged) {
			t.Errorf("a demoted admin granted access: %v", err)
		}
		if _, err := svc.SetRole(ctx, adm, stale, admGrant.ID, store.RoleAdmin, c); !errors.Is(err, project.ErrRoleChanged) {
			t.Errorf("a demoted admin promoted themself back: %v", err)
		}
		if err := svc.Revoke(ctx, adm, stale, admGrant.ID, c); !errors.Is(err, project.ErrRoleChanged) {
			t.Errorf("a demoted admin revoked a grant: %v", err)
		}
		if g, _ := svc.Resolve(ctx, adm, pid); g.Role != access.Standard || g.Project.Name != "P" {
			t.Fatalf("after the refused changes: role %s, name %q", g.Role, g.Project.Name)
		}
		if _, err := svc.Resolve(ctx, eve, pid); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("eve got access: %v", err)
		}
	})
}
